-- Each worker also announces what its models compute in (fp32, bf16) and why ("auto: CPU has
-- avx512_bf16", "set explicitly"), which /v1/models shows; null for a worker that does not say.
alter table fusedream.workers add column if not exists precision text;
alter table fusedream.workers add column if not exists precision_reason text;
