"""Message templates in French, German and English. Pure: (template, locale, parameters) -> subject, body.

Parameters named in SECRET are codes or passwords, and so is every parameter that arrived sealed: they appear
in what is sent, never in what is stored.
"""

from __future__ import annotations

from collections.abc import Collection
from string import Formatter

from schemas.notify import Locale

SECRET = frozenset({"code", "password"})

T: dict[str, dict[Locale, tuple[str, str]]] = {
    "activation-code": {
        Locale.FR: ("Votre code d'activation eSanté",
                    "Madame, Monsieur {family_name},\n\nVoici votre code d'activation pour votre compte eSanté et "
                    "votre Dossier de Soins Partagé (DSP) :\n\n{code}\n\nRendez-vous sur www.esante.lu, rubrique "
                    "« Activation compte eSanté ». Ce code est valable 90 jours et ne peut servir qu'une fois."),
        Locale.DE: ("Ihr eSanté-Aktivierungscode",
                    "Sehr geehrte(r) {family_name},\n\nhier ist Ihr Aktivierungscode für Ihr eSanté-Konto und Ihre "
                    "Gemeinsame Patientenakte (DSP):\n\n{code}\n\nGehen Sie auf www.esante.lu, „Aktivierung "
                    "eSanté-Konto“. Der Code ist 90 Tage gültig und nur einmal verwendbar."),
        Locale.EN: ("Your eSanté activation code",
                    "Dear {family_name},\n\nhere is the activation code for your eSanté account and your shared "
                    "care record (DSP):\n\n{code}\n\nGo to www.esante.lu, \"Activate eSanté account\". The code is "
                    "valid for 90 days and can be used once."),
    },
    "one-time-code": {
        Locale.FR: ("Votre code à usage unique", "Votre code eSanté à usage unique : {code} (valable 5 minutes)."),
        Locale.DE: ("Ihr Einmalcode", "Ihr eSanté-Einmalcode: {code} (5 Minuten gültig)."),
        Locale.EN: ("Your one-time code", "Your eSanté one-time code: {code} (valid for 5 minutes)."),
    },
    "presence-password": {
        Locale.FR: ("Votre mot de passe de présence",
                    "Votre nouveau mot de passe de présence : {password}\n\nMontrez-le à un professionnel de santé "
                    "hors de votre cercle de confiance : il lui donne accès à votre DSP pendant 24 heures. "
                    "L'ancien mot de passe ne fonctionne plus."),
        Locale.DE: ("Ihr Anwesenheitspasswort",
                    "Ihr neues Anwesenheitspasswort: {password}\n\nZeigen Sie es einer Gesundheitsfachkraft "
                    "außerhalb Ihres Vertrauenskreises: Sie erhält 24 Stunden Zugriff auf Ihre DSP."),
        Locale.EN: ("Your presence password",
                    "Your new presence password: {password}\n\nShow it to a health professional outside your "
                    "trusted circle: it gives them access to your DSP for 24 hours. The old one no longer works."),
    },
    "presence-password-guesses": {
        Locale.FR: ("Mots de passe de présence erronés",
                    "Un mauvais mot de passe de présence a été saisi {failures} fois pour votre DSP au cours de la "
                    "dernière heure, par un ou plusieurs professionnels de santé. Si vous n'êtes pas en consultation, "
                    "générez un nouveau mot de passe de présence sous « Mots de passe » : l'ancien ne fonctionnera "
                    "plus."),
        Locale.DE: ("Falsche Anwesenheitspasswörter",
                    "Für Ihre DSP wurde in der letzten Stunde {failures} Mal ein falsches Anwesenheitspasswort "
                    "eingegeben, von einer oder mehreren Gesundheitsfachkräften. Wenn Sie nicht in Behandlung sind, "
                    "erzeugen Sie unter „Passwörter“ ein neues Anwesenheitspasswort: das alte gilt dann nicht mehr."),
        Locale.EN: ("Wrong presence passwords",
                    "A wrong presence password was entered {failures} times for your DSP in the last hour, by one or "
                    "more health professionals. If you are not at a consultation, generate a new presence password "
                    "under \"Passwords\": the old one will stop working."),
    },
    "presence-password-guesses-paused": {
        Locale.FR: ("Mots de passe de présence : essais suspendus",
                    "Un mauvais mot de passe de présence a été saisi {failures} fois pour votre DSP en une heure : "
                    "plus aucun essai n'est accepté pour votre DSP pendant une heure au plus. Si vous êtes en "
                    "consultation, ajoutez le professionnel à votre cercle de confiance ou générez un nouveau mot de "
                    "passe de présence. Sinon, générez-en un nouveau dès que possible."),
        Locale.DE: ("Anwesenheitspasswort: Versuche ausgesetzt",
                    "Für Ihre DSP wurde in einer Stunde {failures} Mal ein falsches Anwesenheitspasswort eingegeben: "
                    "Für höchstens eine Stunde wird kein Versuch mehr angenommen. Wenn Sie in Behandlung sind, fügen "
                    "Sie die Fachkraft Ihrem Vertrauenskreis hinzu oder erzeugen Sie ein neues Anwesenheitspasswort. "
                    "Andernfalls erzeugen Sie so bald wie möglich ein neues."),
        Locale.EN: ("Presence password: tries paused",
                    "A wrong presence password was entered {failures} times for your DSP within an hour: no more "
                    "tries are accepted on your DSP for up to an hour. If you are at a consultation, add the "
                    "professional to your trusted circle or generate a new presence password. Otherwise, generate a "
                    "new one as soon as you can."),
    },
    "repeated-login-failures": {
        Locale.FR: ("Tentatives de connexion échouées",
                    "Un mauvais mot de passe a été saisi {failures} fois pour votre compte eSanté. Si ce n'était pas "
                    "vous : rien n'est bloqué ; changez votre mot de passe et contactez le helpdesk si cela continue."),
        Locale.DE: ("Fehlgeschlagene Anmeldeversuche",
                    "Für Ihr eSanté-Konto wurde {failures} Mal ein falsches Passwort eingegeben. Wenn Sie das nicht "
                    "waren: nichts ist gesperrt; ändern Sie Ihr Passwort und kontaktieren Sie den Helpdesk."),
        Locale.EN: ("Failed sign-in attempts",
                    "A wrong password was entered {failures} times for your eSanté account. If this was not you: "
                    "nothing is locked; change your password, and contact the helpdesk if it goes on."),
    },
    "repeated-code-failures": {
        Locale.FR: ("Codes d'activation erronés",
                    "Un mauvais code d'activation a été saisi {failures} fois pour votre matricule. Votre lettre reste "
                    "valable ; si ce n'était pas vous, contactez le helpdesk."),
        Locale.DE: ("Falsche Aktivierungscodes",
                    "Für Ihre Matrikelnummer wurde {failures} Mal ein falscher Aktivierungscode eingegeben. Ihr Brief "
                    "bleibt gültig; wenn Sie das nicht waren, kontaktieren Sie den Helpdesk."),
        Locale.EN: ("Wrong activation codes",
                    "A wrong activation code was entered {failures} times for your matricule. Your letter stays "
                    "valid; if this was not you, contact the helpdesk."),
    },
    "first-access": {
        Locale.FR: ("Nouvel accès à votre DSP", "Le professionnel {professional} a consulté votre DSP pour la "
                                                "première fois."),
        Locale.DE: ("Neuer Zugriff auf Ihre DSP", "Die Fachkraft {professional} hat Ihre DSP zum ersten Mal "
                                                  "eingesehen."),
        Locale.EN: ("New access to your DSP", "Professional {professional} accessed your DSP for the first time."),
    },
    "presence-password-used": {
        Locale.FR: ("Mot de passe de présence utilisé", "{professional} a utilisé votre mot de passe de présence : "
                                                        "accès pendant 24 heures."),
        Locale.DE: ("Anwesenheitspasswort verwendet", "{professional} hat Ihr Anwesenheitspasswort verwendet: "
                                                      "Zugriff für 24 Stunden."),
        Locale.EN: ("Presence password used", "{professional} used your presence password: access for 24 hours."),
    },
    "emergency-access-used": {
        Locale.FR: ("Accès en urgence à votre DSP", "{professional} a accédé à votre DSP en urgence.\n\n"
                                                    "Justification donnée : « {justification} »"),
        Locale.DE: ("Notfallzugriff auf Ihre DSP", "{professional} hat im Notfall auf Ihre DSP zugegriffen.\n\n"
                                                   "Angegebene Begründung: „{justification}“"),
        Locale.EN: ("Emergency access to your DSP", "{professional} accessed your DSP in an emergency.\n\n"
                                                    "Justification given: \"{justification}\""),
    },
    "grant-expired": {
        Locale.FR: ("Un accès a pris fin", "Un accès à votre DSP ({grant}) a pris fin."),
        Locale.DE: ("Ein Zugriff ist beendet", "Ein Zugriff auf Ihre DSP ({grant}) ist beendet."),
        Locale.EN: ("An access has ended", "An access to your DSP ({grant}) has ended."),
    },
    "assistant-link-ended": {
        Locale.FR: ("Le lien de votre assistant DSP a pris fin",
                    "Vous avez 18 ans : le lien avec l'assistant DSP ajouté quand vous étiez mineur a pris fin, il "
                    "n'a plus accès à votre DSP. Vous seul pouvez le garder : confirmez-le sous « Accompagnateurs », "
                    "ou retirez-le."),
        Locale.DE: ("Die Verbindung zu Ihrem DSP-Assistenten ist beendet",
                    "Sie sind 18 Jahre alt: Die Verbindung zu dem DSP-Assistenten, der hinzugefügt wurde, als Sie "
                    "minderjährig waren, ist beendet; er hat keinen Zugriff mehr auf Ihre DSP. Nur Sie können sie "
                    "behalten: Bestätigen Sie sie unter „Begleitpersonen“, oder entfernen Sie sie."),
        Locale.EN: ("Your DSP assistant's link has ended",
                    "You are 18: the link with the DSP assistant added while you were a minor has ended, and they no "
                    "longer have access to your DSP. Only you can keep it: confirm it under \"DSP assistants\", or "
                    "remove it."),
    },
    "assistant-added": {
        Locale.FR: ("Assistant DSP ajouté", "Un assistant DSP a été ajouté à votre dossier."),
        Locale.DE: ("DSP-Assistent hinzugefügt", "Ihrer Akte wurde ein DSP-Assistent hinzugefügt."),
        Locale.EN: ("DSP assistant added", "A DSP assistant was added to your record."),
    },
    "document-added": {
        Locale.FR: ("Nouveau document", "Un nouveau document est dans votre DSP : {title}."),
        Locale.DE: ("Neues Dokument", "Ein neues Dokument ist in Ihrer DSP: {title}."),
        Locale.EN: ("New document", "A new document is in your DSP: {title}."),
    },
    "document-corrected": {
        Locale.FR: ("Document corrigé", "Un document de votre DSP a été corrigé par son auteur : {title} "
                                        "(version {version})."),
        Locale.DE: ("Dokument korrigiert", "Ein Dokument in Ihrer DSP wurde von seinem Verfasser korrigiert: "
                                           "{title} (Version {version})."),
        Locale.EN: ("Document corrected", "A document in your DSP was corrected by its author: {title} "
                                          "(version {version})."),
    },
    "document-withdrawn": {
        Locale.FR: ("Document retiré", "Un document de votre DSP a été retiré par son auteur : {title}. Il "
                                       "n'est plus affiché dans vos documents."),
        Locale.DE: ("Dokument zurückgezogen", "Ein Dokument in Ihrer DSP wurde von seinem Verfasser "
                                              "zurückgezogen: {title}. Es wird nicht mehr angezeigt."),
        Locale.EN: ("Document withdrawn", "A document in your DSP was withdrawn by its author: {title}. It is no "
                                          "longer shown among your documents."),
    },
}


class UnknownTemplate(ValueError):
    pass


def render(template: str, locale: Locale, params: dict[str, str]) -> tuple[str, str]:
    """Subject and body; a missing template or parameter is the request's fault (a clear reason, no values)."""
    if template not in T:
        raise UnknownTemplate(f"unknown template {template!r}")
    subject, body = T[template][locale]
    needed = {name for _, name, _, _ in Formatter().parse(body) if name}
    missing = needed - params.keys()
    if missing:
        raise UnknownTemplate(f"template {template!r} needs parameters: {', '.join(sorted(missing))}")
    return subject, body.format(**params)


def stored(params: dict[str, str], secret: Collection[str] = ()) -> dict[str, str]:
    """What the outbox keeps: secret parameters (SECRET, and the names in `secret`) never leave memory."""
    return {k: ("[sent, not kept]" if k in SECRET or k in secret else v) for k, v in params.items()}
