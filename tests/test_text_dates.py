"""Publication dates and bylines from the plain text of a whole page (transforms/text_dates.py).

The pages below are made up, in the shapes scraped news pages have: navigation, teasers, a
headline, a byline and a date line in the publisher's format, the article's paragraphs, then
related links, comments and a footer.
"""
import datetime as dt

import pytest

from transforms.text_dates import DEFAULT_LANGUAGES, byline_lines, dates_in_line, find_byline, find_publication_date

D = dt.date

NAV = ["Home", "News", "Politics", "Business", "Sport", "Subscribe", "Log in"]
BODY_EN = [
    "The city council voted on Tuesday evening to expand the bus network to the northern suburbs, ending a debate that had run for most of the year.",
    "Supporters said the new routes would cut commuting times for thousands of residents who now rely on cars to reach jobs in the centre.",
    "Opponents argued that the plan would cost far more than the budget allows and asked for an independent review before any contracts are signed.",
    "The first buses are expected to run in the spring, according to officials, who said the timetable will be published next month.",
    "Residents can comment on the proposed stops until the end of the month through the council's website or at public meetings.",
]
BODY_DE = [
    "Der Stadtrat hat am Dienstagabend beschlossen, das Busnetz in die nördlichen Vororte auszubauen, und damit eine lange Debatte beendet.",
    "Befürworter sagen, die neuen Linien würden die Fahrzeiten für Tausende Pendler verkürzen, die bisher auf das Auto angewiesen sind.",
    "Kritiker halten die Pläne für zu teuer und fordern eine unabhängige Prüfung, bevor die ersten Verträge unterschrieben werden.",
    "Die ersten Busse sollen im Frühjahr fahren, der Fahrplan soll nach Angaben der Stadt im kommenden Monat veröffentlicht werden.",
]
BODY_FR = [
    "Le conseil municipal a voté mardi soir l'extension du réseau de bus vers les quartiers du nord, mettant fin à un long débat.",
    "Les partisans du projet estiment que les nouvelles lignes réduiront le temps de trajet de milliers d'habitants chaque jour.",
    "Les opposants jugent le plan trop coûteux et réclament une étude indépendante avant la signature des premiers contrats.",
    "Les premiers bus devraient circuler au printemps, selon la mairie, qui publiera les horaires le mois prochain.",
]
BODY_ES = [
    "El ayuntamiento aprobó el martes por la noche la ampliación de la red de autobuses hacia los barrios del norte de la ciudad.",
    "Los defensores del plan aseguran que las nuevas líneas reducirán el tiempo de viaje de miles de vecinos que hoy usan el coche.",
    "La oposición considera que el proyecto es demasiado caro y pide un estudio independiente antes de firmar los contratos.",
    "Los primeros autobuses circularán en primavera, según el consistorio, que publicará los horarios el próximo mes.",
]
BODY_JA = [
    "市議会は火曜日の夜、北部の住宅地へ向かうバス路線を拡大する計画を可決し、一年近く続いた議論に区切りをつけた。",
    "賛成派は、新しい路線によって車に頼っている多くの住民の通勤時間が大幅に短くなると説明している。",
    "反対派は、計画の費用が予算を大きく上回るとして、契約を結ぶ前に第三者による検証を行うよう求めた。",
    "市によると、最初のバスは春に運行を始める予定で、時刻表は来月に公表されるという。",
]
FOOTER = ["Related", "Contact us", "Privacy policy", "© 2023 Example Media Group. All rights reserved."]


def page(header: list[str], body: list[str] = BODY_EN, before: list[str] = NAV, after: list[str] = FOOTER) -> list[str]:
    return [*before, *header, *body, *after]


def answer(lines, language="en", crawl=None, **kw):
    found = find_publication_date(lines, language, crawl, **kw)
    return found and (found[0], found[1], lines[found[2]])


# --- the forms a page shows ---------------------------------------------------------------


def test_byline_with_date():
    lines = page(["Tim Cook on Apple being pulled into the enterprise", "By Joseph Tsidulko November 19, 2019, 07:47 PM EST", "Share"])
    assert answer(lines) == (D(2019, 11, 19), "byline", "By Joseph Tsidulko November 19, 2019, 07:47 PM EST")
    assert find_byline(lines, "en") == ("Joseph Tsidulko", lines.index("By Joseph Tsidulko November 19, 2019, 07:47 PM EST"))


@pytest.mark.parametrize(
    "line, day, source",
    [
        ("Nov. 19, 2019 8:03 am ET", D(2019, 11, 19), "header"),
        ("Associated Press November 19, 2019, 9:02 AM", D(2019, 11, 19), "byline"),
        ("Sat 24 Feb 2024 12.42 CET", D(2024, 2, 24), "header"),
        ("March 7, 20247:55 AM UTCUpdated ago", D(2024, 3, 7), "header"),  # year glued to the time
        ("Published Fri, Apr 28 20232:23 PM EDT", D(2023, 4, 28), "header"),
        ("Published: 15:56 BST, 27 April 2024 | Updated: 15:57 BST, 27 April 2024", D(2024, 4, 27), "header"),
        ("12:43, 20 Apr 2026Updated 12:44, 20 Apr 2026", D(2026, 4, 20), "header"),
        ("Aashish Saxena / TIMESOFINDIA.COM / Sep 2, 2024, 17:07 IST", D(2024, 9, 2), "byline"),
        ("2024-02-14T16:15:30Z", D(2024, 2, 14), "header"),
    ],
)
def test_english_date_lines(line, day, source):
    lines = page(["Council approves bus network expansion", line])
    assert answer(lines, crawl=D(2026, 6, 1)) == (day, source, line)


@pytest.mark.parametrize(
    "language, line, body, day",
    [
        ("de", "17.04.2024, 12:24Lesezeit: 5 Min.", BODY_DE, D(2024, 4, 17)),
        ("de", "Stand: 28. April 2023, 05:00 Uhr", BODY_DE, D(2023, 4, 28)),
        ("de", "Publiziert17. Dezember 2024, 12:17", BODY_DE, D(2024, 12, 17)),
        ("de", "Veröffentlicht am 13. Mai 2026 um 15:44", BODY_DE, D(2026, 5, 13)),
        ("de", "06. 01. 2026, 14:59 Uhr Lesedauer: 4 Minuten", BODY_DE, D(2026, 1, 6)),
        ("fr", "Publié le 30 août 2023 à 14h52, modifié le 30 août 2023 à 15h54", BODY_FR, D(2023, 8, 30)),
        ("fr", "Publié le 18 juil. 2024 à 08:01Mis à jour le 18 juil. 2024 à 09:06", BODY_FR, D(2024, 7, 18)),
        ("es", "25 de mayo de 2025 16:51 h", BODY_ES, D(2025, 5, 25)),
        ("es", "13/01/2025 10:22 Actualizado a 13/01/2025 15:43", BODY_ES, D(2025, 1, 13)),
        ("ja", "2025年1月13日 21時37分", BODY_JA, D(2025, 1, 13)),
        ("ja", "公開日：2025/01/31 11:30 更新日：2025/02/01 11:30", BODY_JA, D(2025, 1, 31)),
    ],
)
def test_other_languages(language, line, body, day):
    lines = page(["Headline of the story", line], body)
    found = find_publication_date(lines, language, D(2026, 6, 1))
    assert found and found[0] == day and lines[found[2]] == line


def test_dateline_a_place_before_the_date():
    lines = page(["Zinsen: Die EZB bleibt vorsichtig", "Frankfurt, October 23, 2024, 3:48 Uhr"], BODY_DE)
    assert answer(lines, "de") == (D(2024, 10, 23), "dateline", "Frankfurt, October 23, 2024, 3:48 Uhr")
    lines = page(["El Gobierno aprueba el plan", "Madrid - 29/05/2025 20:00"], BODY_ES)
    assert answer(lines, "es")[:2] == (D(2025, 5, 29), "dateline")


def test_a_source_or_photo_label_line_is_no_date_line():
    # Right under the start: a quote's source with its own date.
    body = [BODY_EN[0], "Source: City Transport Office, October 25, 2019", *BODY_EN[1:]]
    lines = page(["November 18, 2019", "Share", "Council approves bus network expansion", "Share this"], body)
    assert answer(lines, "en", D(2019, 11, 20))[0] == D(2019, 11, 18)


def test_the_date_after_the_lead_beats_a_site_clock_further_up():
    header = ["Wednesday, November 20, 2019", "Sign in", "Search", "Local", "Sport", "Council approves bus network expansion"]
    lines = page(header, [BODY_EN[0], "Jane Roe", "November 18, 2019", *BODY_EN[1:]], before=["Home"])
    assert answer(lines, "en", D(2019, 11, 21))[0] == D(2019, 11, 18)


def test_date_after_the_lead_paragraph():
    lines = page(["Council approves bus network expansion", BODY_EN[0], "Jane Roe", "April 26, 2024 at 11:24 a.m. EDT"], BODY_EN[1:])
    assert answer(lines)[0] == D(2024, 4, 26)


def test_language_unknown_reads_common_languages():
    lines = page(["Der Stadtrat entscheidet", "Veröffentlicht am 13. Mai 2026 um 15:44"], BODY_DE)
    assert find_publication_date(lines, None, D(2026, 6, 1))[0] == D(2026, 5, 13)


# --- what is not the publication date ----------------------------------------------------


@pytest.mark.parametrize(
    "language, header, day",
    [
        ("en", ["Published: 22:04, 22 Apr 2024", "Updated: 09:05, 23 Apr 2024"], D(2024, 4, 22)),
        ("en", ["Updated: 09:05, 23 Apr 2024", "Published: 22:04, 22 Apr 2024"], D(2024, 4, 22)),
        ("no", ["Publisert torsdag 09. mai 2024 - 13:26", "Sist oppdatert fredag 10. mai 2024 - 20:24"], D(2024, 5, 9)),
        ("es", ["Actualizado el 26/05/2025 21:57 h", "Publicado el 25/05/2025 16:51 h"], D(2025, 5, 25)),
    ],
)
def test_published_beats_updated_on_separate_lines(language, header, day):
    lines = page(["Council approves bus network expansion", *header])
    found = find_publication_date(lines, language, D(2025, 6, 1))
    assert found[0] == day and lines[found[2]].startswith(("Published", "Publisert", "Publicado"))


def test_published_beats_updated_on_one_line():
    lines = page(["Headline", "Aktualizacja: 03.02.2025 23:49 Publikacja: 02.02.2025 21:52"])
    assert find_publication_date(lines, "pl", D(2025, 3, 1))[0] == D(2025, 2, 2)


def test_a_published_line_further_off_beats_a_near_updated_one():
    lines = page(["Headline", "Updated on: November 20, 2019 / 10:07 AM / CBS News", *BODY_EN[:3],
                  "First published on November 19, 2019 / 8:16 AM"], BODY_EN[3:])
    assert answer(lines)[0] == D(2019, 11, 19)


def test_only_an_updated_time_is_no_publication_date():
    lines = page(["Headline", "Updated 1:39 am EST, Wednesday, November 20, 2019"])
    assert find_publication_date(lines, "en") is None
    found = find_publication_date(lines, "en", allow_updated=True)
    assert found[:2] == (D(2019, 11, 20), "updated")


def test_copyright_year_is_no_date():
    lines = page(["Council approves bus network expansion", "By Jane Roe"], after=["© 2023 Example Media", "Copyright 2023-2024"])
    assert find_publication_date(lines, "en") is None


def test_a_date_in_the_story_is_no_publication_date():
    body = [*BODY_EN[:2], "On March 3, 2021, the same council had rejected a smaller version of the plan after a long and heated public hearing.", *BODY_EN[2:]]
    assert find_publication_date(page(["Council approves bus network expansion"], body), "en") is None


def test_comment_timestamps_at_the_bottom():
    comments = ["12 comments", "Anna says:", "28. April 2024 um 10:17 Uhr", "Das war überfällig, danke für den Bericht.",
                "Ben says:", "28. April 2024 um 11:12 Uhr", "Sehe ich anders."]
    body = BODY_DE * 3
    assert find_publication_date(page(["Der Stadtrat entscheidet"], body, after=comments + FOOTER), "de") is None
    lines = page(["Der Stadtrat entscheidet", "Von Anna Beispiel", "27.04.2024, 18:00 Uhr"], body, after=comments + FOOTER)
    assert answer(lines, "de")[0] == D(2024, 4, 27)


def test_teaser_list_before_the_article():
    teasers = ["Politik 27.04.2023 01:48 min", "Ein Video zur Lage", "Sport 26.04.2023", "Wieder ein Sieg",
               "Wirtschaft 25.04.2023", "Die Börse schließt fester", "Wissen 22.04.2023"]
    lines = page(["Der Stadtrat entscheidet", "Von Juliane Muster 28.04.2023, 18:11 Uhr"], BODY_DE, before=NAV + teasers)
    assert answer(lines, "de")[:2] == (D(2023, 4, 28), "byline")
    # Without the article's own date line, the teasers' dates are no answer.
    assert find_publication_date(page(["Der Stadtrat entscheidet"], BODY_DE, before=NAV + teasers), "de") is None


def test_teaser_list_whose_other_dates_read_two_ways_or_are_times():
    # "Recent from the author": each item's date is a date line, or reads two ways, or is a
    # weekday and a time; none of them is the article's date.
    teasers = ["Are We Pretending Nothing Happened?", "Michael Harriot", "Monday 3:00PM", "Recent from Adam Clark",
               "Judge Blocks the Plan, Again", "Adam Clark", "11/13/19 11:00AM", "72",
               "A Brief Explanation of the Bug", "Adam Clark", "11/12/19 4:40PM", "Apple",
               "Allow Me to Criticize the Earbuds", "Adam Clark", "11/13/19 9:00AM", "23",
               "The Future of Innovation", "Adam Clark", "Monday 5:30PM", "Filed to: innovation"]
    lines = page(["Council approves bus network expansion"], before=NAV + teasers)
    assert find_publication_date(lines, "en", D(2020, 1, 1)) is None  # 11/12/19 still reads two ways
    # A media player's "00:00" lines are no list around the article's own date line, nor its
    # own time line or "Listen 4:32"; the teaser's Published line above does not win either.
    lines = page(["Council approves bus network expansion", "2019.11.18 19:59", "00:00", "00:00", "00:00"])
    assert answer(lines, "en", D(2019, 11, 20))[0] == D(2019, 11, 18)
    teaser = ["Mayor resigns", "Published: November 2, 2019", "Sport", "Local", "Weather"]
    header = ["Council approves bus network expansion", "By Jane Roe", "November 18, 2019", "4:07 PM EST", "Listen 4:32", "Video 1:05"]
    assert answer(page(header, before=NAV + teaser), "en", D(2019, 11, 20))[0] == D(2019, 11, 18)
    # Long lines with a date that reads two ways are sentences, not a list's items.
    mentions = ["The council first discussed the plan at its meeting of 11/12/19, the minutes say.",
                "A second reading followed on 12/11/19 after the consultation had closed.",
                "The third reading, on 10/11/19, was cancelled because of the weather."]
    lines = page(["Council approves bus network expansion", "November 18, 2019", *mentions])
    assert answer(lines, "en", D(2019, 11, 20))[0] == D(2019, 11, 18)


def test_embedded_post_and_caption_are_not_the_date():
    body = [*BODY_EN[:2], "— Jane Roe (@janeroe) July 16, 2026", "Buses wait at the depot in the northern suburbs, July 1, 2026", *BODY_EN[2:]]
    assert find_publication_date(page(["Council approves bus network expansion"], body), "en", D(2026, 7, 19)) is None


def test_crawl_date_rules_out_later_days_and_settles_numbers():
    lines = page(["Headline", "Published on 06/01/2026 - 13:55"])
    assert find_publication_date(lines, "en") is None  # June 1 or January 6: no guess
    assert find_publication_date(lines, "en", D(2026, 1, 6))[0] == D(2026, 1, 6)  # June 1 is after the crawl
    assert find_publication_date(lines, "fr", D(2026, 6, 30))[0] == D(2026, 1, 6)  # day first in French
    assert find_publication_date(page(["Headline", "May 1, 2031"]), "en", D(2026, 1, 1)) is None


def test_a_published_line_right_under_the_text():
    lines = page(["Der Stadtrat entscheidet"], BODY_DE * 5, after=["Publisert: 05.08.24 kl. 14:47", *FOOTER])
    assert answer(lines, "de", D(2024, 9, 1)) == (D(2024, 8, 5), "header", "Publisert: 05.08.24 kl. 14:47")
    # Not a plain date there (a comment's or a teaser's), nor a "Published" line further down
    # or one among other date lines.
    plain = page(["Der Stadtrat entscheidet"], BODY_DE * 5, after=["05.08.24 14:47", *FOOTER])
    assert find_publication_date(plain, "de", D(2024, 9, 1)) is None
    far = page(["Der Stadtrat entscheidet"], BODY_DE * 5, after=["Teilen", "Drucken", "Mehr zum Thema", "Publisert: 05.08.24", *FOOTER])
    assert find_publication_date(far, "de", D(2024, 9, 1)) is None
    teasers = ["Publisert: 05.08.24", "Ein anderer Artikel", "Publisert: 04.08.24"]
    assert find_publication_date(page(["Der Stadtrat entscheidet"], BODY_DE * 5, after=teasers), "de", D(2024, 9, 1)) is None
    # Not a comment's "Posted by", nor a teaser's Published line under its headline.
    comment = page(["Der Stadtrat entscheidet"], BODY_DE * 5, after=["Posted by Hans: 05.08.24 14:47"])
    assert find_publication_date(comment, "de", D(2024, 9, 1)) is None
    teaser = page(["Council approves bus network expansion"], BODY_EN * 4, after=["Read next: Mayor resigns", "Published November 2, 2019"])
    assert find_publication_date(teaser, "en", D(2019, 11, 20)) is None


def test_nothing_to_go_on():
    assert find_publication_date([], "en") is None
    assert find_publication_date(NAV, "en") is None
    assert find_byline([], "en") is None


# --- dates in a line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, languages, days",
    [
        ("by Lesotho TimesNovember 21, 202501747", ("en",), [D(2025, 11, 21)]),
        ("30.01.202430. Januar 2024", ("de", "en"), [D(2024, 1, 30)]),
        ("12. MÄR 2025 18:03", ("de", "en"), [D(2025, 3, 12)]),
        ("20 Nisan 2026•Güncelleme: 20 Nisan 2026", ("tr", "en"), [D(2026, 4, 20), D(2026, 4, 20)]),
        ("입력 2026.07.12 22:09", ("ko", "en"), [D(2026, 7, 12)]),
        ("2024年04月24日23:52 | 来源：新华网", ("zh", "en"), [D(2024, 4, 24)]),
        ("Saturday, Apr 27th 2024 4PM", ("en",), [D(2024, 4, 27)]),
        ("Nature 647, 20-23 (2025)", ("en",), []),
        ("Copyright © 1997-2024", ("en",), []),
        ("31.02.2024", ("de", "en"), []),
        ("7/3/2025", ("en",), []),  # July 3 or March 7
        ("25/3/2025", ("en",), [D(2025, 3, 25)]),
        # a two-digit year: day first, and only before a time or after a "Published" cue
        ("Veröffentlicht am 27.04.24 um 07:39 Uhr", ("de", "en"), [D(2024, 4, 27)]),
        ("15.10.24 23:35", ("nb", "en"), [D(2024, 10, 15)]),
        ("Do 25.04.24 | 14:07 Uhr | Von Eva Beispiel", ("de", "en"), [D(2024, 4, 25)]),
        ("Publisert: 05.08.24", ("nb", "en"), [D(2024, 8, 5)]),
        ("Version 1.2.24", ("de", "en"), []),
        ("v1.2.24 12:00", ("de", "en"), []),
        ("dpaMM-Redaktion Palma, Mallorca15.04.25 09:56", ("de", "en"), [D(2025, 4, 15)]),
        ("Audio | 25.04.24 | 02:43 Min.", ("de", "en"), []),  # a duration, not a time
        ("Preis 1.12.24 12.50 Euro", ("de", "en"), []),
        ("Kipchoge 2.01.09, 2.02.30", ("de", "en"), []),
        # year first in Korean, Japanese, Swedish ...; with no language, a year-first reading
        # that is a day as well leaves it unread
        ("입력 24.05.03 10:30", ("ko", "en"), []),
        ("19.11.18 14:30", ("ko", "en"), []),
        ("24/05/03 10:30", DEFAULT_LANGUAGES, []),
        ("10.06.99 12:00", DEFAULT_LANGUAGES, [D(1999, 6, 10)]),
        ("25.4.24", ("de", "en"), []),
        ("10.06.99 12:00", ("de", "en"), [D(1999, 6, 10)]),
        ("31.04.24 10:00", ("de", "en"), []),
        ("By Jane Roe On 11/13/19 at 4:00 PM EST", ("en",), [D(2019, 11, 13)]),
        # dots: day first, except in English, where US sites write them month first
        ("11.14.2019 09:00 AM", ("en",), [D(2019, 11, 14)]),
        ("05.08.2019", ("en",), []),
        ("05.08.2019", ("de", "en"), [D(2019, 8, 5)]),
        ("06.11.2025", DEFAULT_LANGUAGES, [D(2025, 11, 6)]),  # month first only on an English page
        ("11/12/19 4:40PM", ("en",), []),  # November 12 or December 11
        ("11/12/19 4:40PM", ("fr", "en"), [D(2019, 12, 11)]),
    ],
)
def test_dates_in_line(line, languages, days):
    assert [f.day for f in dates_in_line(line, languages, D(2030, 1, 1))] == days


# --- bylines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, language, names",
    [
        ("By Samya Kullab and Vasilisa Stepanenko The Associated Press", "en", "Samya Kullab, Vasilisa Stepanenko"),
        ("By Tom Davies, Associated Press", "en", "Tom Davies"),
        ("Aaron Kliegman | Fox News", "en", "Aaron Kliegman"),
        ("By Jon King, News Reporter", "en", "Jon King"),
        ("Von Felix Schröder und Jörg Soldwisch, dpa", "de", "Felix Schröder, Jörg Soldwisch"),
        ("Von Johannes Ritter, Zürich", "de", "Johannes Ritter"),
        ("von Engin Haupt, MDR SACHSEN-ANHALT", "de", "Engin Haupt"),
        ("Von Paulina Cwiartka, Online-Redakteurin", "de", "Paulina Cwiartka"),
        ("Par Denis Loctier", "fr", "Denis Loctier"),
        ("Por Luna González", "es", "Luna González"),
        ("di Luca Monaco", "it", "Luca Monaco"),
        ("Amy Gibbons Political Correspondent", "en", "Amy Gibbons"),
        ("Autorin/Autor Roman Goncharenko", "de", "Roman Goncharenko"),
        # names before a relative time stamp (no date, but a byline's shape)
        ("Kyle Wiggers 7 hours", "en", "Kyle Wiggers"),
        ("Fouzia Van Der Fort|Published 4 months ago", "en", "Fouzia Van Der Fort"),
        ("Dylan Jones5 hours ago", "en", "Dylan Jones"),
        ("Jane Doe · an hour ago", "en", "Jane Doe"),
    ],
)
def test_byline_names(line, language, names):
    body = {"de": BODY_DE, "fr": BODY_FR, "es": BODY_ES}.get(language, BODY_EN)
    lines = page(["Headline of the story", line], body)
    assert find_byline(lines, language) == (names, lines.index(line))


def test_byline_on_the_date_line_and_by_on_its_own_line():
    lines = page(["Headline", "Yasmine Hassan · CBC News · Posted: Aug 08, 2024 4:00 AM EDT | Last Updated: August 8"])
    found = find_publication_date(lines, "en")
    assert found[0] == D(2024, 8, 8)
    assert find_byline(lines, "en", found[2])[0] == "Yasmine Hassan"
    lines = page(["Headline", "06 February 2026", "By", "Rachel Brazil", "Mia Example"])
    assert find_byline(lines, "en")[0] == "Rachel Brazil, Mia Example"
    by = lines.index("By")
    assert list(byline_lines(lines, find_byline(lines, "en")[1])) == [by, by + 1, by + 2]  # the name lines too
    assert list(byline_lines(lines, lines.index("06 February 2026"))) == [lines.index("06 February 2026")]


def test_no_byline_from_sentences_captions_or_labels():
    lines = page(["Headline", "Foto: Urs Beispiel / AP", "Source: Russian Defense Ministry, October 25, 2019",
                  "By the end of the year the council hopes to have the first routes running."])
    assert find_byline(lines, "en") is None
    # A relative time stamp after a section, an outlet, a label or a sentence is no byline.
    lines = page(["Headline", "Breaking News 5 minutes ago", "Real Estate 2 days ago", "Updated 3 hours ago",
                  "Share this 2 hours ago", "The council met for 3 hours"])
    assert find_byline(lines, "en") is None


def _byline_by_the_date(header, language="en"):
    lines = page(header)
    found = find_publication_date(lines, language)
    return find_byline(lines, language, found[2] if found else None), lines


HEADLINE = "Council expands the bus network to the northern suburbs"


@pytest.mark.parametrize(
    "header, language, name",
    [
        ([HEADLINE, "Jody Robbins", "Published Jun 05, 2026"], "en", "Jody Robbins"),
        ([HEADLINE, "John Smith", "Published Jun 05, 2026"], "en", "John Smith"),  # "john" is an English stop word
        (["Author of the article:", "Jody Robbins", "Published Jun 05, 2026"], "en", "Jody Robbins"),
        ([HEADLINE, "Tanza Loudenback, Business Insider", "Jun 05, 2026"], "en", "Tanza Loudenback"),
        (["Der Stadtrat baut das Busnetz in die nördlichen Vororte aus", "17.05.2026, 19:06 Uhr", "Anne-Kathrin Neuberg-Vural"],
         "de", "Anne-Kathrin Neuberg-Vural"),
        (["Der Stadtrat baut das Busnetz in die nördlichen Vororte aus", "Ursula von der Leyen", "17.05.2026, 19:06 Uhr"],
         "de", "Ursula von der Leyen"),
    ],
)
def test_a_name_on_its_own_line_by_the_date_line_is_the_byline(header, language, name):
    body = BODY_DE if language == "de" else BODY_EN
    lines = page(header, body)
    found = find_publication_date(lines, language)
    assert find_byline(lines, language, found[2]) == (name, lines.index([h for h in header if h.startswith(name)][0]))


@pytest.mark.parametrize(
    "header, language, name",
    [
        ([HEADLINE, "Tania Broughton", "Journalist"], "en", "Tania Broughton"),  # a role below
        ([HEADLINE, "Marta Cañete", "Corresponsal en Atenas"], "es", "Marta Cañete"),
        ([HEADLINE, "Chris Wilson-Smith", "Published 3 seconds ago"], "en", "Chris Wilson-Smith"),  # a time stamp below
        ([HEADLINE, "Ryan Devereaux", "Ryan Devereaux", "Jun 05, 2026"], "en", "Ryan Devereaux"),  # a portrait's text, then the name
    ],
)
def test_a_name_line_over_a_role_or_time_stamp_or_shown_twice_is_the_byline(header, language, name):
    got, lines = _byline_by_the_date(header, language)
    assert got == (name, len(lines) - 1 - lines[::-1].index(name))


def test_a_name_over_a_role_does_not_outrank_the_name_by_the_date():
    got, lines = _byline_by_the_date([HEADLINE, "Jane Doe", "Jun 05, 2026", "Kevin Hassett", "Economic adviser"])
    assert got == ("Jane Doe", lines.index("Jane Doe"))


def test_blank_lines_do_not_break_the_byline_search():
    assert find_byline([HEADLINE, "Jane Doe", ""], "en", 1) is None
    assert find_byline(["", "   ", HEADLINE], "en") is None


def test_a_name_line_never_beats_a_byline_that_says_so():
    got, lines = _byline_by_the_date(["Aaron Kliegman | Fox News", HEADLINE, "Jun 05, 2026", "Joe Biden"])
    assert got == ("Aaron Kliegman", lines.index("Aaron Kliegman | Fox News"))


@pytest.mark.parametrize(
    "header",
    [
        ["Council expands the bus network", "Published Jun 05, 2026", "Donald Trump", "Foto: REUTERS/Nathan Howard"],  # a photo's subject
        ["Results", "Miguel Bernal North Diving", "Ben Patton Trinity", "Posted: Fri 6:45 PM, Feb 16, 2018"],  # a list of names
        ["Advertise", "Current Issue", "Politics / January 11, 2024"],  # a label in the page's language
        ["Council expands the bus network", "Oct 4, 2018", "Amy K. Dragoo/AIMMEDIA"],  # a photo credit
        ["Council expands the bus network", "Elliot Brownstein Florida Today", "Published 2:16 AM EST Nov 20, 2019"],  # an outlet
        ["Council expands the bus network", "Jody Robbins", "Share this article"],  # no date line by it
        ["Top Stories", "Trump Slams Biden", "Jun 05, 2026"],  # a short headline under a menu entry
        [HEADLINE, "Real Estate", "Jun 05, 2026"],  # a section
        [HEADLINE, "The Verge Staff", "Jun 05, 2026"],  # a leading article
        [HEADLINE, "© Jane Doe", "Jun 05, 2026"],  # a credit
        [HEADLINE, "Jane Doe reports.", "Jun 05, 2026"],  # a sentence
        [HEADLINE, "Jane Doe", "Share", "Jun 05, 2026"],  # two lines away
        [HEADLINE, "Maria Cruz Fernandez Lopez Garcia", "Jun 05, 2026"],  # five words: no name
        ["Chip Somodevilla", HEADLINE, "Chip Somodevilla", "Jun 05, 2026"],  # shown earlier: a tag or a menu entry
        ["Chip Somodevilla", HEADLINE, "Chip Somodevilla", "Chip Somodevilla", "Jun 05, 2026"],
        ["Chip Somodevilla", HEADLINE, "Chip Somodevilla", "Journalist"],
        [HEADLINE, "Breaking News", "2 hours ago"],  # a section over a time stamp
        [HEADLINE, "Maria Ressa", "Journalist and Nobel laureate"],  # a subject's card: more than a role
        [HEADLINE, "Evan Vucci", "Photographer"],  # a photo's credit
        [HEADLINE, "Biden Visits Kyiv", "3 hours ago"],  # a teaser: a bare time stamp is no publication cue
        [HEADLINE, "Correction Appended", "Editor's note: this story was updated"],
        ["Biden Signs Flood Bill", "Published 3 hours ago"],  # a headline under the menu, over its stamp
        ["Top stories", "Council Approves Plan", "Updated 3 hours ago", "Flood Walls Delayed", "Updated 5 hours ago"],  # teasers
        [HEADLINE, *BODY_EN[:2], "Our expert", "Peter Miller", "Contributor"],  # a card inside the text is a quoted person's
        ["Zum Tod der Journalistin Erika Mustermann", "Erika Mustermann", "Journalistin"],  # the headline names her
        [HEADLINE, "Donald Trump", "Updated 3 hours ago, with the reaction of the White House"],  # more than a stamp
    ],
)
def test_no_name_line_byline_from_captions_lists_labels_or_outlets(header):
    assert _byline_by_the_date(header)[0] is None


def test_english_month_names_without_dateparser_tables(monkeypatch):
    import sys

    from transforms import text_dates

    monkeypatch.setitem(sys.modules, "dateparser.data.date_translation_data.en", None)  # import fails
    months, weekdays, order = text_dates._locale.__wrapped__("en")
    assert months["nov"] == 11 and months["september"] == months["sept"] == 9 and order == "MDY"
    assert "monday" in weekdays
