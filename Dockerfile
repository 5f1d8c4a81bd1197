# opskpi on the official Airflow image. Everything is installed at build time: nothing is pip-installed
# when a container starts (no _PIP_ADDITIONAL_REQUIREMENTS).
#
#   docker compose build            # or: docker build -t opskpi-airflow .
#
# The base tag must match the apache-airflow pin in pyproject.toml and the Python of constraints.txt
# (tests/unit/test_compose.py checks it).
FROM apache/airflow:3.3.2-python3.11

# The project lives in /opt/opskpi. PYTHONPATH puts its source tree ahead of site-packages (as `opskpi run`
# does), so opskpi.pipeline finds dbt_project/ beside it; `pip install .` below brings the pinned
# dependencies and the `opskpi` command. Relative `data_dir` in a config resolves against the working
# directory, so config/demo.yml's `data` is /opt/opskpi/data: the named volume in docker-compose.yml.
ENV OPSKPI_HOME=/opt/opskpi \
    PYTHONPATH=/opt/opskpi \
    OPSKPI_CONFIG=/opt/opskpi/config/demo.yml \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/opskpi/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DO_NOT_TRACK=1 \
    SCARF_NO_ANALYTICS=true

# Mount points of the named volumes, created here so that Docker initialises each new volume owned by
# the airflow user (uid 50000, gid 0 as the image expects).
USER root
RUN mkdir -p /opt/opskpi/data /opt/airflow/logs \
    && chown -R airflow:0 /opt/opskpi /opt/airflow/logs \
    && chmod -R g+rwX /opt/opskpi /opt/airflow/logs
USER airflow
WORKDIR /opt/opskpi

# Dependencies and packages first: editing DAGs, dbt models or configs does not reinstall anything.
COPY --chown=airflow:0 pyproject.toml constraints.txt ./
COPY --chown=airflow:0 opskpi/ opskpi/
COPY --chown=airflow:0 extractors/ extractors/
COPY --chown=airflow:0 expectations/ expectations/
COPY --chown=airflow:0 emulator/ emulator/
# `.[deploy]`: the FAB auth manager the compose stack logs in with; `s3`: landing on an S3-compatible object store
# (`landing.url: s3://…`, docs/deploy.md). Pinned like everything else.
RUN pip install --no-cache-dir -c constraints.txt ".[deploy,s3]" \
    && rm -rf build ./*.egg-info

COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 config/ config/
