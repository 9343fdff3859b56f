-- Generations, their previews and score traces, and the workers' heartbeats.
create schema if not exists fusedream;

create table fusedream.generations (
    id               uuid primary key,
    -- Insertion order: newest-first listing, cursor paging and queue positions.
    seq              bigint generated always as identity unique,
    idempotency_key  text unique,
    request_hash     text not null,
    prompt           text not null,
    model            text not null,
    seed             bigint not null,
    preset           text,
    options          jsonb not null,
    status           text not null default 'queued'
                     check (status in ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    cancel_requested boolean not null default false,
    attempts         integer not null default 0,
    worker           text,
    job_id           text,
    created_at       timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    phase            text,
    step             integer,
    total            integer,
    aug_clip         double precision,
    eta_seconds      double precision,
    progress_at      timestamptz,
    score            double precision,
    image_key        text,
    final_z          real[],
    final_y          real[],
    error            text,
    -- A succeeded row always points at its image: the blob is written before this row commits.
    constraint succeeded_has_result check (status <> 'succeeded' or (image_key is not null and score is not null))
);

create index generations_status_seq on fusedream.generations (status, seq);

create table fusedream.generation_previews (
    generation_id uuid not null references fusedream.generations (id) on delete cascade,
    step          integer not null,
    blob_key      text not null,
    created_at    timestamptz not null default now(),
    primary key (generation_id, step)
);

create table fusedream.generation_trace (
    generation_id uuid not null references fusedream.generations (id) on delete cascade,
    ordinal       integer not null,
    step          integer not null,
    loss          double precision not null,
    aug_clip      double precision,
    primary key (generation_id, ordinal)
);

create table fusedream.workers (
    name         text primary key,
    models       text[] not null,
    worker_count integer not null,
    started_at   timestamptz not null,
    last_seen    timestamptz not null
);
