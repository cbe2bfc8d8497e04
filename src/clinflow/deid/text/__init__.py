"""Free-text de-identification: recognizers, the known-identifier index, the engine, evaluation."""
