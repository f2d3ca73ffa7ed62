"""How the reference agent is trained: trajectory synthesis (`synthesis`), the SFT cold
start (`sft`) and process-supervised GRPO (`grpo`), over shared training plumbing (`base`,
the trainer base; `policy`, `checkpoint`, `metrics`, `batches`, `settings`). The command
line is `deeptool-train`."""
