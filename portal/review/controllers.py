from __future__ import annotations

PAGE_CONTROLLERS: list[type] = []
API_CONTROLLERS: list[type] = []
