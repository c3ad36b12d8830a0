"""Mistral's dialect: wire conversion for the `mistralai` SDK on the `/v1` paths it shares with OpenAI
(the controllers in `routes/openai/` delegate here when a request is Mistral's; see docs/mistral.md)."""
