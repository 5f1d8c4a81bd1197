-- Jira project key -> team from the configuration (raw.config__projects). Blank teams are NULL
-- (the project is then `unassigned`); blank keys are dropped.

with source as (

    select project_key, team
    from {{ source('config', 'projects') }}

),

renamed as (

    select
        trim(project_key) as project_key,
        nullif(trim(team), '') as team

    from source
    where nullif(trim(project_key), '') is not null

)

select * from renamed
