"""The web application: server-rendered pages for viewers, creators, moderators and
administrators, served by the same Falcon app as the API (see :mod:`.site`)."""
