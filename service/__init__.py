"""The screening service: configuration, registration and screening over the
catalog and indexes (the I/O edge joining fingerprint, index, match, policy)."""

from .config import Config, ConfigError, default_toml, load_config
from .engine import (
    CATALOG_FILE, DEFAULT_HOME, MEDIA_SUFFIXES, Clock, DataFolderError, FormatMismatch, Prescreen, RegisterError,
    RegisterResult, ScreenResult, clock_from_environment, expand_paths, resolve_home, system_clock,
)

__all__ = [
    "CATALOG_FILE", "Clock", "Config", "ConfigError", "DataFolderError", "DEFAULT_HOME", "FormatMismatch",
    "MEDIA_SUFFIXES", "Prescreen", "RegisterError", "RegisterResult", "ScreenResult", "clock_from_environment",
    "default_toml", "expand_paths", "load_config", "resolve_home", "system_clock",
]
