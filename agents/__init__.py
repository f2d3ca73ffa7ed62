"""Agents that play DeepTool-Math: the interface, LLM adapters and the reference agents.

Adapters are imported lazily (`agents.openai_agent`, `agents.hf_agent`,
`agents.vllm_agent`) so that `import agents` needs neither httpx, torch nor vLLM.
"""

from .base import Agent, AgentProtocol, ChatAgent, Generation, Usage
from .prompt import complete_action, observation_message

__all__ = ["Agent", "AgentProtocol", "ChatAgent", "Generation", "Usage", "complete_action",
           "observation_message"]
