FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY pyproject.toml README.md ./
COPY . .
RUN pip install --no-cache-dir . && \
    SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --create-home steward && mkdir -p /data && chown steward /data
USER steward
EXPOSE 8000
