"""The API's JSON parser: nesting depth bounded before parsing (deep JSON -> 400)."""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

from .jsondepth import DEFAULT_MAX_DEPTH, JSONTooDeep, json_depth_check


def json_max_depth() -> int:
    return getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSONParser, but ~1,000 nested levels are a 400, not a RecursionError 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            json_depth_check(text, max_depth=json_max_depth())
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except JSONTooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # belt and braces: the check above should make this unreachable
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
