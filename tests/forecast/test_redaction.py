"""Credentials in URLs are masked before anything is logged or printed."""

import pytest

from forecast.redaction import redact


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql://writer:s3cret@db:5432/forecasts", "postgresql://writer:***@db:5432/forecasts"),
        ("postgresql://writer@db/forecasts?password=s3cret", "postgresql://writer@db/forecasts?password=***"),
        ("https://admin:secret@mlflow.example.com/api", "https://admin:***@mlflow.example.com/api"),
        ("s3://bucket/x?X-Amz-Signature=abc&X-Amz-Date=1", "s3://bucket/x?X-Amz-Signature=***&X-Amz-Date=1"),
        ("mysql://u@h/d?sslmode=require&pwd=p&token=t", "mysql://u@h/d?sslmode=require&pwd=***&token=***"),
        ("postgresql://writer:${DB_PASSWORD}@db/f", "postgresql://writer:${DB_PASSWORD}@db/f"),
        ("model uri https://admin:secret@host/x failed", "model uri https://admin:***@host/x failed"),
        ("sqlite:///tmp/mlflow.db", "sqlite:///tmp/mlflow.db"),
        ("http://127.0.0.1:5000/api/2.0/mlflow", "http://127.0.0.1:5000/api/2.0/mlflow"),
    ],
)
def test_passwords_and_secret_query_parameters_are_masked(text, expected):
    assert redact(text) == expected
