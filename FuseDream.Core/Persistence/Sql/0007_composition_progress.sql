-- A composed generation's progress events say which component (from 1) of how many a stage-1
-- phase (basisSearch, optimizing) is running for, as the API's progress does; a single-prompt
-- generation's payload is unchanged (null fields are stripped).
create or replace function fusedream.webhook_payload(g fusedream.generations) returns jsonb
language sql stable as $$
    select jsonb_strip_nulls(jsonb_build_object(
        'id', g.id, 'status', g.status, 'prompt', g.prompt, 'model', g.model, 'seed', g.seed,
        'createdAt', g.created_at, 'startedAt', g.started_at, 'finishedAt', g.finished_at,
        'progress', case when g.phase is not null then jsonb_build_object('phase', g.phase, 'step', g.step, 'total', g.total, 'augClip', g.aug_clip,
            'component', g.progress_component, 'components', g.progress_components) end,
        'score', g.score, 'error', g.error))
$$;
