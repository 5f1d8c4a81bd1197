"""A local SMTP server (aiosmtpd) on a free loopback port that keeps every message it receives."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def smtp_server():
    """Yields (port, handler); handler.messages holds the received email.message.Message objects."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Collect(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    handler = Collect()
    with socket.socket() as probe:  # the controller checks readiness by connecting: it needs a real port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()
