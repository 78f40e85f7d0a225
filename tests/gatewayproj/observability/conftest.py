# The stubbed upstream of the authorization server's tests, for flows seen from outside.
from tests.oauthgw.conftest import upstream  # noqa: F401
