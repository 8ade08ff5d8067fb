# One image for every dsp-mesh worker: `python -m services.<name>`.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY schemas ./schemas
COPY services ./services
COPY infra ./infra
COPY demo ./demo
RUN useradd --system --uid 10001 dsp
USER dsp
ENV DSP_HTTP_HOST=0.0.0.0
