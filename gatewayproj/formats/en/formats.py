# One way to write a moment across the admin: ISO-like, 24-hour, with the zone,
# e.g. "2026-12-01 13:29 UTC" (TIME_ZONE, DJANGO_TIME_ZONE). Django reads these
# before its own English formats (FORMAT_MODULE_PATH); what is not set here,
# such as the input formats, stays Django's.
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
