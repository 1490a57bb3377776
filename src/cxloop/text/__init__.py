"""Text models that run offline on CPU: sentence embeddings (the packaged MiniLM),
sentiment (a lexicon, or a model learned from star ratings), intent classification and
topic discovery. numpy / scikit-learn / torch; no store, no engine. Heavy imports
(torch, sentence-transformers) happen on first use, never at import time.
"""
