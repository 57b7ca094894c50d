# The portal's image: web, worker and beat all run from it (compose.yaml), each with the
# command of its line in the Procfile. Build: docker build -t clear-down-portal .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    PROMETHEUS_MULTIPROC_DIR=/app/var/metrics

WORKDIR /app

# The locked set of packages, each checked against its hash (`make lock` updates the file).
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY . .
# Static files are collected into the image, served by WhiteNoise (no CDN, no shared volume).
# The key is only for this one command; the running container must be given its own.
RUN SECRET_KEY=collectstatic-only DEBUG=false python manage.py collectstatic --noinput -v0 \
    && useradd --system --uid 10001 --no-create-home --home-dir /app portal \
    && mkdir -p /app/var \
    && chown portal /app/var

# Never root: the portal writes only to /app/var (beat's schedule, metrics of the web processes).
USER portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
