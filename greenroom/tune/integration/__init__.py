"""Integrations at Ray's paths: ``greenroom.tune.integration.ray_train.TuneReportCallback``."""
