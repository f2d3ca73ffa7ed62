"""How the reference agent is trained: trajectory synthesis (`synthesis`), the SFT cold
start (`sft`) and process-supervised GRPO (`grpo`), over shared training plumbing
(`policy`, `checkpoint`, `settings`). The command line is `deeptool-train`."""
