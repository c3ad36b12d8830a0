"""Use cases: what the gateway does with a request, independent of HTTP.

- `transcription.TranscriptionService`: `transcribe(file, options)` and `transcribe_events(...)`.
- `understanding.UnderstandingService`: `answer(question | conversation)` and `answer_events(...)`.
- `batch.BatchService`: `transcribe_batch(items, options)`.

Each module re-exports the input, option and result types its adapters need."""
