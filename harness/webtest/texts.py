"""Every rater-facing text of the page, with English defaults, a built-in German translation, and overrides from
the study file: ``[rater.text]`` (replaces English defaults) and ``[rater.translations.LANG]`` (adds or
replaces a language). The page picks the language with ``?lang=LANG`` (falling back to English key by key).

Placeholders: ``{minutes}``, ``{n_trials}`` (welcome), ``{n}``, ``{key}`` (sound buttons), ``{done}``,
``{total}`` (progress). Questionnaire answers are stored as the English option, whatever language was shown.
"""

from __future__ import annotations

import re
from typing import Any

from harness.errors import ManifestError

EN: dict[str, Any] = {
    "lang": "en",
    "title": "Listening test",
    "welcome_title": "Welcome",
    "welcome": "In this study you listen to short sound excerpts and rate their quality compared with a reference. "
               "It takes about {minutes} minutes: a short training, then {n_trials} rating page(s).",
    "instructions": [
        "Use headphones in a quiet place.",
        "First set a comfortable volume; then, on each page, press Reference and each numbered sound. You can "
        "switch at any time while playback runs. Keys: R reference, 1-9, 0, Q, W sounds, space play/stop.",
        "Drag on the waveform to loop a part (at least half a second).",
        "Rate every sound from 0 (bad) to 100 (excellent). The reference is hidden among the sounds: rate at "
        "least one sound 100.",
        "Your answers are saved after every page; if you are interrupted, reopen the study link in this browser "
        "(or the resume link at the bottom of the page) to continue.",
    ],
    "consent": "Participation is voluntary; we store your ratings, timing of your interactions and basic browser "
               "information, anonymously, for research. You can stop at any time.",
    "consent_label": "I agree to take part",
    "start": "Start",
    "calibration_title": "Set your volume",
    "calibration_hint": "Put on your headphones and press Play. Set your device's volume so that this sound is "
                        "clearly audible and comfortable, not loud. Keep this volume for the whole test.",
    "calibration_play": "Play",
    "calibration_stop": "Stop",
    "calibration_continue": "The volume is comfortable: continue",
    "loading": "Loading the sounds of this page...",
    "training_title": "Training",
    "training_hint": "Practice: listen to the reference and every sound, and try the sliders. These answers are "
                     "not used.",
    "trial_title": "Rate the sounds",
    "trial_hint": "Compare each sound with the reference and rate its quality. One of them is the reference itself.",
    "reference": "Reference (R)",
    "play": "Play (space)",
    "stop": "Stop (space)",
    "whole_excerpt": "Whole excerpt",
    "play_sound": "Play sound {n} (key {key})",
    "rating_of": "Rating of sound {n}",
    "played": "played",
    "scale": ["Bad", "Poor", "Fair", "Good", "Excellent"],
    "gate_prefix": "To continue:",
    "gate_play": "play every sound",
    "gate_rate": "rate every sound",
    "gate_100": "rate at least one sound 100",
    "next": "Next",
    "progress_trial": "Trial {done} of {total}",
    "progress_training": "Training",
    "progress_headphone": "Headphone check",
    "headphone_title": "Headphone check",
    "headphone_hint": "Put on your headphones. Each sound is noise in three parts; in one part you can hear a "
                      "faint tone inside the noise. Which part has the tone? You can play each sound once.",
    "hp_play": "Play",
    "hp_count": "Sound {done} of {total}",
    "questionnaire_title": "Almost done",
    "questionnaire_hint": "A few questions about how you listened (all optional).",
    "finish": "Finish",
    "done_title": "Thank you, you are done!",
    "done_text": "All your ratings are saved. Your completion code is:",
    "screened_title": "Thank you",
    "screened_text": "The headphone check indicates you are not listening over headphones, so the test ends "
                     "here. Please return the study with this code:",
    "return_link": "Return to the crowd platform",
    "resume": "Resume link (keep it to continue on another device):",
    "retrying": "Connection problem, retrying...",
    "q_device": "What did you listen with?",
    "q_device_options": ["closed headphones", "open headphones", "earbuds", "loudspeakers", "other"],
    "q_environment": "How quiet was your surrounding?",
    "q_environment_options": ["very quiet", "quiet", "some noise", "noisy"],
    "q_hearing": "Do you have any known hearing problems?",
    "q_hearing_options": ["no", "yes", "prefer not to say"],
    "q_experience": "Have you taken part in listening tests before?",
    "q_experience_options": ["never", "once or twice", "often", "I work in audio"],
    "q_comments": "Comments (optional)",
    "complete_title": "This study is complete",
    "complete_text": "It has all the ratings it needs. Thank you for your interest! You have not started, so nothing "
                     "is lost: please return the study on your crowd platform.",
}

DE: dict[str, Any] = {
    "lang": "de",
    "title": "Hörversuch",
    "welcome_title": "Willkommen",
    "welcome": "In dieser Studie hören Sie kurze Klangausschnitte und bewerten ihre Qualität im Vergleich mit "
               "einer Referenz. Das dauert etwa {minutes} Minuten: ein kurzes Training, dann {n_trials} "
               "Bewertungsseite(n).",
    "instructions": [
        "Verwenden Sie Kopfhörer in einer ruhigen Umgebung.",
        "Stellen Sie zuerst eine angenehme Lautstärke ein; drücken Sie dann auf jeder Seite Referenz und jeden "
        "nummerierten Klang. Sie können während der Wiedergabe jederzeit umschalten. Tasten: R Referenz, 1-9, 0, "
        "Q, W Klänge, Leertaste Wiedergabe/Stopp.",
        "Ziehen Sie über die Wellenform, um einen Teil zu wiederholen (mindestens eine halbe Sekunde).",
        "Bewerten Sie jeden Klang von 0 (schlecht) bis 100 (ausgezeichnet). Die Referenz ist unter den Klängen "
        "versteckt: Bewerten Sie mindestens einen Klang mit 100.",
        "Ihre Antworten werden nach jeder Seite gespeichert; nach einer Unterbrechung öffnen Sie den Studienlink "
        "in diesem Browser (oder den Link unten auf der Seite), um fortzufahren.",
    ],
    "consent": "Die Teilnahme ist freiwillig; wir speichern Ihre Bewertungen, den zeitlichen Ablauf Ihrer "
               "Eingaben und grundlegende Browserdaten anonym zu Forschungszwecken. Sie können jederzeit aufhören.",
    "consent_label": "Ich bin mit der Teilnahme einverstanden",
    "start": "Start",
    "calibration_title": "Lautstärke einstellen",
    "calibration_hint": "Setzen Sie Ihre Kopfhörer auf und drücken Sie Abspielen. Stellen Sie die Lautstärke "
                        "Ihres Geräts so ein, dass der Klang deutlich hörbar und angenehm, nicht laut ist. Behalten "
                        "Sie diese Lautstärke für den ganzen Test bei.",
    "calibration_play": "Abspielen",
    "calibration_stop": "Stopp",
    "calibration_continue": "Die Lautstärke ist angenehm: weiter",
    "loading": "Die Klänge dieser Seite werden geladen...",
    "training_title": "Training",
    "training_hint": "Übung: Hören Sie die Referenz und jeden Klang an und probieren Sie die Schieberegler aus. "
                     "Diese Antworten werden nicht verwendet.",
    "trial_title": "Bewerten Sie die Klänge",
    "trial_hint": "Vergleichen Sie jeden Klang mit der Referenz und bewerten Sie seine Qualität. Einer davon ist "
                  "die Referenz selbst.",
    "reference": "Referenz (R)",
    "play": "Abspielen (Leertaste)",
    "stop": "Stopp (Leertaste)",
    "whole_excerpt": "Ganzer Ausschnitt",
    "play_sound": "Klang {n} abspielen (Taste {key})",
    "rating_of": "Bewertung von Klang {n}",
    "played": "gehört",
    "scale": ["Schlecht", "Dürftig", "Ordentlich", "Gut", "Ausgezeichnet"],
    "gate_prefix": "Um fortzufahren:",
    "gate_play": "jeden Klang abspielen",
    "gate_rate": "jeden Klang bewerten",
    "gate_100": "mindestens einen Klang mit 100 bewerten",
    "next": "Weiter",
    "progress_trial": "Seite {done} von {total}",
    "progress_training": "Training",
    "progress_headphone": "Kopfhörertest",
    "headphone_title": "Kopfhörertest",
    "headphone_hint": "Setzen Sie Ihre Kopfhörer auf. Jeder Klang ist ein Rauschen in drei Teilen; in einem Teil "
                      "hört man einen leisen Ton im Rauschen. Welcher Teil enthält den Ton? Jeder Klang kann "
                      "einmal abgespielt werden.",
    "hp_play": "Abspielen",
    "hp_count": "Klang {done} von {total}",
    "questionnaire_title": "Fast geschafft",
    "questionnaire_hint": "Einige Fragen dazu, wie Sie gehört haben (alle freiwillig).",
    "finish": "Abschließen",
    "done_title": "Vielen Dank, Sie sind fertig!",
    "done_text": "Alle Ihre Bewertungen sind gespeichert. Ihr Abschlusscode lautet:",
    "screened_title": "Vielen Dank",
    "screened_text": "Der Kopfhörertest zeigt, dass Sie nicht über Kopfhörer hören; der Test endet daher hier. "
                     "Bitte geben Sie die Studie mit diesem Code zurück:",
    "return_link": "Zurück zur Crowd-Plattform",
    "resume": "Link zum Fortsetzen (behalten Sie ihn, um auf einem anderen Gerät weiterzumachen):",
    "retrying": "Verbindungsproblem, neuer Versuch...",
    "q_device": "Womit haben Sie gehört?",
    "q_device_options": ["geschlossene Kopfhörer", "offene Kopfhörer", "In-Ear-Kopfhörer", "Lautsprecher",
                         "anderes"],
    "q_environment": "Wie ruhig war Ihre Umgebung?",
    "q_environment_options": ["sehr ruhig", "ruhig", "etwas Lärm", "laut"],
    "q_hearing": "Haben Sie bekannte Hörprobleme?",
    "q_hearing_options": ["nein", "ja", "keine Angabe"],
    "q_experience": "Haben Sie schon an Hörversuchen teilgenommen?",
    "q_experience_options": ["nie", "ein- oder zweimal", "oft", "ich arbeite im Audiobereich"],
    "q_comments": "Anmerkungen (freiwillig)",
    "complete_title": "Diese Studie ist abgeschlossen",
    "complete_text": "Sie hat alle Bewertungen, die sie braucht. Vielen Dank für Ihr Interesse! Sie haben noch nicht "
                     "begonnen, es geht also nichts verloren: Bitte geben Sie die Studie auf Ihrer Crowd-Plattform "
                     "zurück.",
}

BUILTIN = {"en": EN, "de": DE}
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def check_texts(text: dict, translations: dict) -> None:
    """Refuse unknown keys and wrong types in ``[rater.text]`` / ``[rater.translations.LANG]`` (a typo would
    otherwise silently show the English default)."""
    for where, table in [("[rater.text]", text)] + [(f"[rater.translations.{k}]", v)
                                                     for k, v in translations.items()]:
        if not isinstance(table, dict):
            raise ManifestError(f"{where} must be a table of texts")
        for key, value in table.items():
            if key not in EN:
                raise ManifestError(f"{where}: unknown text {key!r}; known: {', '.join(sorted(EN))}")
            want_list = isinstance(EN[key], list)
            if want_list != isinstance(value, list) or (want_list and not all(isinstance(v, str) for v in value)):
                raise ManifestError(f"{where}.{key} must be {'a list of strings' if want_list else 'a string'}")
            if key.endswith("_options") and len(value) != len(EN[key]):
                raise ManifestError(f"{where}.{key} must have {len(EN[key])} options, in the English order")
    for lang in translations:
        if not LANG_RE.match(lang):
            raise ManifestError(f"[rater.translations.{lang}]: use a language code such as de, fr or pt-BR")


def texts_for(lang: str | None, *, text: dict, translations: dict) -> dict[str, Any]:
    """English defaults < study's [rater.text] < built-in translation < study's translation for ``lang``."""
    out = {**EN, **text}
    lang = (lang or "").strip()
    if lang and lang != "en" and LANG_RE.match(lang):
        out.update(BUILTIN.get(lang, {}))
        out.update(translations.get(lang, {}))
        out["lang"] = lang if (lang in BUILTIN or lang in translations) else "en"
    return out


def questions(t: dict[str, Any]) -> list[dict[str, Any]]:
    """The questionnaire in the chosen language: ``value`` is the stored (English) option, ``label`` is shown."""
    out = []
    for q in ("device", "environment", "hearing", "experience"):
        out.append({"id": q, "label": t[f"q_{q}"], "type": "choice",
                    "options": [{"value": v, "label": lab}
                                for v, lab in zip(EN[f"q_{q}_options"], t[f"q_{q}_options"])]})
    out.append({"id": "comments", "label": t["q_comments"], "type": "text", "options": []})
    return out
