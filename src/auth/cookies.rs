//! The session cookies: httpOnly, SameSite=Strict, `Secure` when served over HTTPS. Both live at
//! path `/` so that page requests can be refreshed transparently.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::ctx::{ACCESS_COOKIE, REFRESH_COOKIE};
use super::tokens::{ACCESS_TTL_SECS, REFRESH_TTL_DAYS};

fn cookie(name: &'static str, value: &str, secure: bool, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build((name, value.to_string()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
}

pub fn access_cookie(token: &str, secure: bool) -> Cookie<'static> {
    cookie(ACCESS_COOKIE, token, secure, ACCESS_TTL_SECS)
}

pub fn refresh_cookie(token: &str, secure: bool) -> Cookie<'static> {
    cookie(REFRESH_COOKIE, token, secure, REFRESH_TTL_DAYS * 86_400)
}

pub fn with_session(jar: CookieJar, access: &str, refresh: &str, secure: bool) -> CookieJar {
    jar.add(access_cookie(access, secure))
        .add(refresh_cookie(refresh, secure))
}

pub fn without_session(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(ACCESS_COOKIE).path("/"))
        .remove(Cookie::build(REFRESH_COOKIE).path("/"))
}
