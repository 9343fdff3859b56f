-- With weighted prompts, each measured trace point also records every prompt's AugCLIP (a JSON
-- array in the order of the options' prompts); null with one prompt, whose score is aug_clip.
alter table fusedream.generation_trace add column if not exists prompt_aug_clip jsonb;

-- Each worker also announces the CLIP models it loaded, which a request may name for an ensemble.
alter table fusedream.workers add column if not exists clips text[] not null default '{}';
