-- How many times a worker died (stopped heartbeating, or was killed) while running the
-- generation: crash recovery hands it to the next worker, first in line, until this passes
-- Queue:MaxRetries; then the generation fails instead of killing worker after worker.
alter table fusedream.generations add column if not exists worker_losses integer not null default 0;

-- Recovery looks for running generations by worker.
create index if not exists generations_running_worker on fusedream.generations (worker) where status = 'running';
