"""Demo and test leads: realistic people in several scripts with company data, a realistic share of
bad emails and phones, and LinkedIn free-text answers where a picklist would be expected.

Pure: a seeded `random.Random` in, plain dicts out. The Graph and LinkedIn stand-ins turn a
`Person` into their own wire shapes."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

# (first names, last names, country code, phone prefix, locale)
_PEOPLE = [
    (["Emma", "Liam", "Olivia", "Noah", "Ava"], ["Smith", "Johnson", "Brown", "Miller"], "US", "+1 415 555 ", "en_US"),
    (["José", "María", "Lucía", "Álvaro"], ["García", "Núñez", "Martínez", "Peña"], "ES", "+34 612 ", "es_ES"),
    (["Jürgen", "Ömer", "Käthe", "Björn"], ["Müller", "Schäfer", "Groß", "Köhler"], "DE", "+49 151 ", "de_DE"),
    (["Анна", "Дмитрий", "Ольга", "Сергей"], ["Иванова", "Петров", "Смирнова", "Кузнецов"], "RU", "+7 912 ", "ru_RU"),
    (["太郎", "花子", "健", "さくら"], ["山田", "佐藤", "鈴木", "高橋"], "JP", "+81 90 ", "ja_JP"),
    (["伟", "芳", "娜", "强"], ["王", "李", "张", "刘"], "CN", "+86 138 ", "zh_CN"),
    (["محمد", "فاطمة", "أحمد", "ليلى"], ["العلي", "حسن", "الخطيب"], "AE", "+971 50 ", "ar_AE"),
    (["आरव", "प्रिया", "रोहन", "अनन्या"], ["शर्मा", "पटेल", "गुप्ता"], "IN", "+91 98 ", "hi_IN"),
    (["Γιώργος", "Μαρία", "Νίκος"], ["Παπαδόπουλος", "Οικονόμου"], "GR", "+30 69 ", "el_GR"),
    (["Zoë", "François", "Chloé", "Loïc"], ["Lefèvre", "Dubois", "Bérubé"], "FR", "+33 6 ", "fr_FR"),
]
# Latin spellings used for e-mail local parts of people whose names are in another script.
_ROMAN = ["anna", "dmitry", "taro", "hanako", "wei", "fang", "mohammed", "fatima", "aarav", "priya", "giorgos", "maria"]

_COMPANIES = [
    ("Acme Analytics", "acme-analytics.com", "Software", "51-200"),
    ("Nordwind Logistik GmbH", "nordwind.de", "Logistics", "201-500"),
    ("Soluciones Ibéricas S.L.", "solib.es", "Consulting", "11-50"),
    ("株式会社サクラ技研", "sakura-giken.jp", "Manufacturing", "1001-5000"),
    ("ООО Северсталь Сервис", "severservis.ru", "Industrial", "501-1000"),
    ("Blue Harbor Health", "blueharbor.health", "Healthcare", "5001-10000"),
    ("Dubai Trade Hub FZE", "dxbtradehub.ae", "Wholesale", "11-50"),
    ("Lumière Studio", "lumiere-studio.fr", "Design", "1-10"),
]
_TITLES = [
    "Marketing Manager",
    "Head of Growth",
    "CTO",
    "Directora de Ventas",
    "Einkaufsleiter",
    "Data Engineer",
    "VP Sales",
    "Procurement Specialist",
    "Office Manager",
]
# LinkedIn sends predefined picklist-like answers as free text in the form's language (reference §7).
_JOB_FUNCTIONS = [
    "Engineering",
    "Ingeniería",
    "Marketing",
    "Vertrieb",
    "Sales",
    "Informatique",
    "Operations",
    "Eng.",
    "Business Development",
    "Recursos Humanos",
]
_SENIORITY = ["Entry", "Senior", "Manager", "Director", "VP", "CXO", "Gerente", "Leitung"]
_BAD_EMAILS = [
    "john.doe@",
    "no-email",
    "maria@@example.com",
    "test@localhost",
    "a@b",
    "user@example..com",
    "   ",
    "info@domain,com",
]
# Digits after each country's prefix in _PEOPLE, so a good number is a valid one (phonenumbers agrees).
_PHONE_DIGITS = {"US": 4, "ES": 6, "DE": 8, "RU": 7, "JP": 8, "CN": 8, "AE": 7, "IN": 8, "GR": 8, "FR": 8}
_BAD_PHONES = ["12", "n/a", "000", "+1 555", "phone", "++49 (0)", "1234567890123456789"]

BAD_EMAIL_SHARE = 0.08
BAD_PHONE_SHARE = 0.07


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str
    company: str
    company_domain: str
    industry: str
    company_size: str
    job_title: str
    job_function: str
    seniority: str
    country: str
    city: str
    locale: str
    bad_email: bool
    bad_phone: bool

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


_CITIES = {
    "US": "San Francisco",
    "ES": "Sevilla",
    "DE": "München",
    "RU": "Москва",
    "JP": "東京",
    "CN": "上海",
    "AE": "دبي",
    "IN": "मुंबई",
    "GR": "Αθήνα",
    "FR": "Besançon",
}


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in folded if c.isalnum())


def person(rng: random.Random) -> Person:
    firsts, lasts, country, phone_prefix, locale = rng.choice(_PEOPLE)
    first, last = rng.choice(firsts), rng.choice(lasts)
    company, domain, industry, size = rng.choice(_COMPANIES)
    local = _ascii(first) or rng.choice(_ROMAN)
    local = f"{local}.{_ascii(last) or rng.randrange(100, 999)}"
    bad_email = rng.random() < BAD_EMAIL_SHARE
    bad_phone = rng.random() < BAD_PHONE_SHARE
    email = rng.choice(_BAD_EMAILS) if bad_email else f"{local}@{domain}"
    digits = _PHONE_DIGITS[country]
    phone = rng.choice(_BAD_PHONES) if bad_phone else f"{phone_prefix}{rng.randrange(10 ** (digits - 1), 10**digits)}"
    return Person(
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        company=company,
        company_domain=domain,
        industry=industry,
        company_size=size,
        job_title=rng.choice(_TITLES),
        job_function=rng.choice(_JOB_FUNCTIONS),
        seniority=rng.choice(_SENIORITY),
        country=country,
        city=_CITIES[country],
        locale=locale,
        bad_email=bad_email,
        bad_phone=bad_phone,
    )


# The questions of a sandbox Facebook form, as leadgen_forms?fields=questions lists them: the keys
# facebook_field_data answers.
FACEBOOK_QUESTIONS: tuple[dict[str, str], ...] = (
    {"key": "full_name", "label": "Full name", "type": "FULL_NAME"},
    {"key": "email", "label": "Email", "type": "EMAIL"},
    {"key": "phone_number", "label": "Phone number", "type": "PHONE"},
    {"key": "company_name", "label": "Company name", "type": "COMPANY_NAME"},
    {"key": "job_title", "label": "Job title", "type": "JOB_TITLE"},
    {"key": "city", "label": "City", "type": "CITY"},
    {"key": "country", "label": "Country", "type": "COUNTRY"},
    {"key": "what_is_your_budget?", "label": "What is your budget?", "type": "CUSTOM"},
    {"key": "which_products_interest_you?", "label": "Which products interest you?", "type": "CUSTOM"},
)


def facebook_field_data(p: Person, rng: random.Random) -> list[dict[str, object]]:
    """Graph `field_data`: standard pre-fill keys plus two custom questions (values are always lists)."""
    return [
        {"name": "full_name", "values": [p.full_name]},
        {"name": "email", "values": [p.email]},
        {"name": "phone_number", "values": [p.phone]},
        {"name": "company_name", "values": [p.company]},
        {"name": "job_title", "values": [p.job_title]},
        {"name": "city", "values": [p.city]},
        {"name": "country", "values": [p.country]},
        {"name": "what_is_your_budget?", "values": [rng.choice(["<$1k", "$1k-$10k", "$10k+"])]},
        {"name": "which_products_interest_you?", "values": rng.sample(["crm", "analytics", "ads", "support"], 2)},
    ]


def facebook_disclaimers(rng: random.Random) -> list[dict[str, str]]:
    # The official example sends is_checked as the string "1" or "".
    return [
        {"checkbox_key": "marketing_opt_in", "is_checked": "1" if rng.random() < 0.7 else ""},
        {"checkbox_key": "terms", "is_checked": "1"},
    ]


def test_lead_field_data(names: list[str]) -> list[dict[str, object]]:
    """What Meta's testing tool fills in when no values are given."""
    return [{"name": n, "values": [f"<test lead: dummy data for {n}>"]} for n in names]
