# recon's image: the API, the scheduler, `recon db upgrade` and the demo's simulators all run
# from it (docker-compose.yml gives each service its command). Build: docker build -t recon .
#
# builder: a virtual environment holding exactly the runtime dependencies of requirements.lock
# (versions and hashes pinned; `make lock` regenerates it), then recon itself without
# dependencies. No dev extras, no compiler in the final image.
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock

COPY pyproject.toml README.md ./
COPY recon ./recon
COPY adapters ./adapters
COPY fixtures ./fixtures
RUN pip install --no-deps . && pip check

# runtime: the slim base, the venv, and a user of its own
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin recon \
    && mkdir -p /app/var \
    && chown recon:recon /app/var
COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER recon
EXPOSE 8000

# liveness of `recon serve` on its default port; compose disables it for the services that
# serve no HTTP (migrate, scheduler, demo-loader) and gives the simulators their own
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# the database URL, RECON_CONFIG and the channels' secrets come from the environment; the schema
# is migrated by `recon db upgrade` (compose's `migrate` service), never by a serving replica
CMD ["recon", "serve", "--no-scheduler", "--host", "0.0.0.0", "--port", "8000"]
