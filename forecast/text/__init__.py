"""Text models: a recurrent language model over `pipelines.TextWindows` (a product beside the forecaster)."""

from forecast.text.language_model import LanguageModel

__all__ = ["LanguageModel"]
