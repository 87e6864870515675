/* ls_ui_page.h - the web UI's page (HTML, CSS and JavaScript in one
 * string), served at "/" by ls_http.c, which puts the current figures
 * where the page says LS_INITIAL; the JSON API updates them after that. */
#ifndef LS_UI_PAGE_H
#define LS_UI_PAGE_H

extern const char ls_ui_page[];

#endif
