-- A composed generation (docs/composition.md) keeps its scene with the row: the components
-- (background first, each { prompt, box, feather }) and the fusion's options, both null for a
-- single-prompt generation. Once it succeeds, the image is the fused G(ξ*) (image_key); each
-- component's image and the naive composite are blobs too, and the composition's own trace
-- (both stages) is kept beside the fusion steps written to generation_trace.
alter table fusedream.generations add column if not exists components jsonb;
alter table fusedream.generations add column if not exists composition jsonb;
alter table fusedream.generations add column if not exists component_image_keys text[];
alter table fusedream.generations add column if not exists composite_image_key text;
alter table fusedream.generations add column if not exists composition_trace jsonb;

-- Progress of a composed generation's stage 1: which component (from 1) of how many.
alter table fusedream.generations add column if not exists progress_component integer;
alter table fusedream.generations add column if not exists progress_components integer;
