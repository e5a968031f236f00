"""The consent URLs each platform documents (docs/platform-oauth.md), built without I/O."""

from urllib.parse import parse_qs, urlsplit

from ingest_service.connectors.platform_oauth import authorize_url, callback_url, missing_app
from leadrelay.settings import Settings

SETTINGS = Settings.from_env({}).replace(
    facebook_app_id="4242", linkedin_client_id="li-app", public_base_url="https://leads.example.com/"
)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_facebook_login_dialog_asks_for_the_lead_ads_permissions_comma_separated():
    url = authorize_url(SETTINGS, "FACEBOOK", "st4te")
    assert url.startswith("https://www.facebook.com/v25.0/dialog/oauth?")
    assert _query(url) == {
        "client_id": ["4242"],
        "redirect_uri": ["https://leads.example.com/connect/facebook/callback"],
        "state": ["st4te"],
        "scope": ["pages_show_list,pages_read_engagement,pages_manage_metadata,leads_retrieval,ads_management"],
        "response_type": ["code"],
    }


def test_linkedin_asks_for_rw_conversions_only_when_the_conversions_feedback_is_on():
    url = authorize_url(SETTINGS, "LINKEDIN", "st4te")
    assert url.startswith("https://www.linkedin.com/oauth/v2/authorization?")
    assert _query(url)["scope"] == ["r_ads r_marketing_leadgen_automation rw_conversions"]
    assert _query(url)["redirect_uri"] == [callback_url(SETTINGS, "LINKEDIN")]
    off = authorize_url(SETTINGS.replace(linkedin_conversions=False), "LINKEDIN", "s")
    assert _query(off)["scope"] == ["r_ads r_marketing_leadgen_automation"]


def test_a_missing_app_setting_is_named():
    assert missing_app(Settings.from_env({}), "FACEBOOK") == "FACEBOOK_APP_ID, FACEBOOK_APP_SECRET"
    assert missing_app(SETTINGS.replace(linkedin_client_secret="x"), "LINKEDIN") == ""
