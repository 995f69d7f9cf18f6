//! Input rules shared by the console and the API. The schema enforces the same limits, so a
//! value that slips past here is still refused by the database.

use crate::error::FieldErrors;

pub const KEY_MIN: usize = 2;
pub const KEY_MAX: usize = 63;
pub const NAME_MAX: usize = 200;
pub const LOGIN_MAX: usize = 255;
pub const EMAIL_MAX: usize = 320;
pub const GROUP_NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 1000;

/// A URL slug: lower-case letters, digits and inner hyphens, 2 to 63 characters.
pub fn key(errors: &mut FieldErrors, field: &str, value: &str) {
    let len = value.chars().count();
    if !(KEY_MIN..=KEY_MAX).contains(&len) {
        errors.add(field, format!("must be {KEY_MIN} to {KEY_MAX} characters long"));
        return;
    }
    let allowed = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !allowed || value.starts_with('-') || value.ends_with('-') {
        errors.add(field, "use lower-case letters, digits and hyphens, not starting or ending with a hyphen");
    }
}

/// A display name: not blank, at most `max` characters, no control characters.
pub fn name(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        errors.add(field, "must not be empty");
    } else if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters long"));
    } else if value.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
}

/// A login: 1 to 255 characters, no whitespace or control characters.
pub fn login(errors: &mut FieldErrors, field: &str, value: &str) {
    let len = value.chars().count();
    if len == 0 {
        errors.add(field, "must not be empty");
    } else if len > LOGIN_MAX {
        errors.add(field, format!("must be at most {LOGIN_MAX} characters long"));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.add(field, "must not contain spaces or control characters");
    }
}

/// An e-mail address: one `@` with text on both sides, no spaces, at most 320 characters.
pub fn email(errors: &mut FieldErrors, field: &str, value: &str) {
    let ok = value.chars().count() <= EMAIL_MAX
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(value.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !ok {
        errors.add(field, "must be an e-mail address such as ada@example.com");
    }
}

/// The form logins are compared in, for uniqueness and look-ups: Unicode compatibility
/// normalisation (NFKC) and full case folding, applied until stable, so that look-alikes that
/// Unicode itself equates (the Kelvin sign and `K`, full-width `Ａ` and `A`, `ß` and `ss`) are
/// one login and cannot name two accounts. (Plain `to_lowercase` keeps the Kelvin sign apart
/// from `k` in one place and not in another.)
pub fn login_key(login: &str) -> String {
    let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
    let fold = icu_casemap::CaseMapper::new();
    // Folding can produce characters that normalise further and the reverse, so twice.
    let once = nfkc.normalize(&fold.fold_string(&nfkc.normalize(login))).into_owned();
    nfkc.normalize(&fold.fold_string(&once)).into_owned()
}

/// Trims a display value; empty optional values become `None`.
pub fn optional(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: impl Fn(&mut FieldErrors)) -> bool {
        let mut e = FieldErrors::default();
        f(&mut e);
        e.is_empty()
    }

    #[test]
    fn keys_are_url_slugs() {
        assert!(check(|e| key(e, "key", "acme-corp")));
        assert!(check(|e| key(e, "key", "a1")));
        assert!(!check(|e| key(e, "key", "a")));
        assert!(!check(|e| key(e, "key", "Acme")));
        assert!(!check(|e| key(e, "key", "-acme")));
        assert!(!check(|e| key(e, "key", "acme-")));
        assert!(!check(|e| key(e, "key", "ac me")));
        assert!(!check(|e| key(e, "key", "acmé")));
        assert!(!check(|e| key(e, "key", &"a".repeat(64))));
        assert!(check(|e| key(e, "key", &"a".repeat(63))));
    }

    #[test]
    fn names_refuse_blank_long_and_control() {
        assert!(check(|e| name(e, "name", "Acme Corp", NAME_MAX)));
        assert!(!check(|e| name(e, "name", "   ", NAME_MAX)));
        assert!(!check(|e| name(e, "name", &"x".repeat(201), NAME_MAX)));
        assert!(!check(|e| name(e, "name", "a\u{0}b", NAME_MAX)));
    }

    #[test]
    fn emails_need_one_at_sign() {
        assert!(check(|e| email(e, "email", "ada@example.com")));
        assert!(!check(|e| email(e, "email", "ada")));
        assert!(!check(|e| email(e, "email", "@example.com")));
        assert!(!check(|e| email(e, "email", "a@b@c")));
        assert!(!check(|e| email(e, "email", "a b@c")));
    }

    #[test]
    fn login_keys_fold_unicode_case() {
        assert_eq!(login_key("Ada.Lovelace"), "ada.lovelace");
        assert_eq!(login_key("ÉMILE"), "émile");
        // The Kelvin sign, full-width letters, ligatures and sharp s fold to plain letters.
        assert_eq!(login_key("\u{212A}elvin"), login_key("kelvin"));
        assert_eq!(login_key("ＡＤＡ"), "ada");
        assert_eq!(login_key("\u{FB01}nance"), "finance");
        assert_eq!(login_key("Straße"), login_key("STRASSE"));
        // A decomposed accent is the composed one.
        assert_eq!(login_key("e\u{301}mile"), login_key("émile"));
        assert_ne!(login_key("ada"), login_key("adam"));
    }
}
