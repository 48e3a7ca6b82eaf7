"""An HTTP inference service for the trained model (FastAPI, run with uvicorn)."""
