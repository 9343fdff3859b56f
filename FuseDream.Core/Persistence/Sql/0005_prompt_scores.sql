-- With weighted prompts, each measured trace point also records every prompt's AugCLIP (a JSON
-- array in the order of the options' prompts); null with one prompt, whose score is aug_clip.
alter table fusedream.generation_trace add column if not exists prompt_aug_clip jsonb;
