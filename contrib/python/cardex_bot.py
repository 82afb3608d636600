"""cardex_bot — an example chat-bot backend on cardexd's `answer` method.

reply(client, message) turns a user's message into a chat reply: the best card's answer,
its sources and action buttons from the card's ui.actions; when the daemon finds no good
answer, "did you mean" suggestions from the nearest cards instead.

    python3 contrib/python/cardex_bot.py "how do we build an isms?"     # prints the reply as JSON
"""
import json
import sys

from cardex_client import CardexClient, CardexConnectionError, CardexTimeout

MAX_SUGGESTIONS = 3


def _buttons(card):
    out = []
    for a in card.get("actions") or []:
        if a.get("label") and a.get("type"):
            out.append({"label": a["label"], "action": a["type"], "target": a.get("target")})
    return out


def _sources(card):
    out = []
    for s in card.get("sources") or []:
        title = s.get("title") or s.get("id") or ""
        if s.get("locator"):
            title += " (%s)" % s["locator"]
        out.append(title)
    return out


def reply(client, message, packs=None):
    """Returns {"kind": "answer"|"suggestions"|"error", "text", "card_id", "confidence",
    "sources", "buttons", "suggestions"} for a user's message."""
    message = (message or "").strip()
    if not message:
        return {"kind": "suggestions", "text": "Ask me a compliance question, for example "
                "\u201cWhat is an ISMS?\u201d", "card_id": None, "confidence": 0.0,
                "sources": [], "buttons": [], "suggestions": []}
    try:
        res = client.answer(message, packs=packs)
    except (CardexConnectionError, CardexTimeout) as e:
        return {"kind": "error", "text": "The knowledge base is unavailable right now (%s)." % e,
                "card_id": None, "confidence": 0.0, "sources": [], "buttons": [],
                "suggestions": []}
    if res.get("answered"):
        card = res["card"]
        sources = _sources(card)
        text = res.get("answer") or ""
        if sources:
            text += "\n\nSources: " + "; ".join(sources)
        return {"kind": "answer", "text": text, "card_id": card["id"],
                "question": card.get("question"), "confidence": res.get("confidence", 0.0),
                "sources": sources, "buttons": _buttons(card), "suggestions": []}
    suggestions = [{"id": h["id"], "question": h["question"]}
                   for h in (res.get("alternatives") or [])[:MAX_SUGGESTIONS]]
    if suggestions:
        text = "I don't have a confident answer to that. Did you mean:\n" + "\n".join(
            "\u2022 %s (%s)" % (s["question"], s["id"]) for s in suggestions)
    else:
        text = ("I don't have an answer to that in the knowledge base. Try asking about "
                "ISO 27001, SOC 2, GDPR or NIST CSF.")
    return {"kind": "suggestions", "text": text, "card_id": None,
            "confidence": res.get("confidence", 0.0), "sources": [], "buttons": [],
            "suggestions": suggestions}


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print("usage: cardex_bot.py MESSAGE...   (socket: $CARDEX_SOCKET or the default)")
        return 2
    with CardexClient() as client:
        r = reply(client, " ".join(argv[1:]))
    print(json.dumps(r, indent=2, ensure_ascii=False))
    return 0 if r["kind"] == "answer" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
