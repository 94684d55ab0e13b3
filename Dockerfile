# recon: API, web UI and scheduler in one process. Build: docker build -t recon .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY recon ./recon
COPY adapters ./adapters
COPY fixtures ./fixtures
RUN pip install . && useradd --system --home /app recon && mkdir -p /app/var && chown recon /app/var

USER recon
EXPOSE 8000
# migrate, then serve; the database URL and secrets come from the environment
CMD ["sh", "-c", "recon db upgrade && exec recon serve --host 0.0.0.0 --port 8000"]
