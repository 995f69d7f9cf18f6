//! The web console: server-rendered pages (askama templates in `web/templates`), one module per
//! area. Every form carries a CSRF token; every page is usable with a keyboard alone.

pub mod applications;
pub mod connections;
pub mod enterprises;
pub mod mappings;
pub mod organizations;
pub mod provisioning;
pub mod session;
pub mod webhooks;

use actix_web::{HttpRequest, HttpResponse, error, web};
use askama::Template;
use directory::FieldErrors;

use crate::auth::ConsoleSession;
use crate::error::PageError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::FormConfig::default().limit(16 * 1024).error_handler(|err, _req: &HttpRequest| {
        let page = PageError::BadRequest(format!("The form could not be read: {err}"));
        error::InternalError::from_response(err, actix_web::ResponseError::error_response(&page)).into()
    }))
    .configure(session::configure)
    .configure(enterprises::configure)
    .configure(organizations::configure)
    .configure(connections::configure)
    .configure(provisioning::configure)
    .configure(mappings::configure)
    .configure(applications::configure)
    .configure(webhooks::configure);
}

/// The signed-in user as the page header shows them.
#[derive(Debug, Clone)]
pub struct NavUser {
    pub display: String,
    pub is_operator: bool,
    pub enterprise_key: Option<String>,
}

/// What every console page's layout needs: who is signed in, the CSRF token for its forms,
/// and which navigation entry is current.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub user: Option<NavUser>,
    pub csrf: String,
    pub section: &'static str,
    /// The result of the action that led here, shown once.
    pub flash: Option<String>,
}

impl Chrome {
    pub fn signed_in(session: &ConsoleSession, section: &'static str) -> Self {
        let info = &session.info;
        Chrome {
            user: Some(NavUser {
                display: if info.name.is_empty() { info.login.clone() } else { info.name.clone() },
                is_operator: matches!(info.actor, directory::Actor::Operator { .. }),
                // Only admins have an enterprise page to go to.
                enterprise_key: info
                    .enterprise_key
                    .clone()
                    .filter(|_| matches!(&info.actor, directory::Actor::User { grants, .. } if !grants.is_empty())),
            }),
            csrf: session.csrf.clone(),
            section,
            flash: session.flash.clone(),
        }
    }

    pub fn anonymous(csrf: String) -> Self {
        Chrome { user: None, csrf, section: "", flash: None }
    }
}

pub use crate::respond::{render, render_status, see_other};

/// One input of a [`FormPage`].
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub hint: String,
    pub error: Option<String>,
    pub required: bool,
    /// For a `<select>`: (value, label) pairs.
    pub options: Vec<(String, String)>,
}

impl Field {
    pub fn text(name: &'static str, label: &'static str, value: &str, hint: &str, required: bool) -> Self {
        Field {
            name,
            label,
            kind: "text",
            value: value.to_owned(),
            hint: hint.to_owned(),
            error: None,
            required,
            options: Vec::new(),
        }
    }

    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub fn options(mut self, options: Vec<(String, String)>) -> Self {
        self.options = options;
        self
    }
}

/// A page with one form: create an enterprise, an organization, a group, appoint an admin.
#[derive(Template)]
#[template(path = "form_page.html")]
#[derive(Debug)]
pub struct FormPage {
    pub chrome: Chrome,
    pub title: String,
    pub intro: String,
    pub crumbs: Vec<(String, String)>,
    pub action: String,
    pub cancel: String,
    pub submit: &'static str,
    pub fields: Vec<Field>,
    pub error: Option<String>,
}

impl FormPage {
    /// Attaches field errors to their fields; errors for fields the form lacks become the
    /// form's own message.
    pub fn with_errors(mut self, errors: &FieldErrors) -> Self {
        let mut unplaced = Vec::new();
        for e in &errors.0 {
            match self.fields.iter_mut().find(|f| f.name == e.field) {
                Some(f) => f.error = Some(e.message.clone()),
                None => unplaced.push(format!("{}: {}", e.field, e.message)),
            }
        }
        if !unplaced.is_empty() {
            self.error = Some(unplaced.join("; "));
        }
        self
    }

    /// Re-renders the form after the directory refused it: field errors go to the fields,
    /// conflicts to the top; anything else becomes an error page.
    pub fn refused(self, err: directory::DirectoryError) -> Result<HttpResponse, PageError> {
        use actix_web::http::StatusCode;
        match err {
            directory::DirectoryError::Validation(f) => render_status(&self.with_errors(&f), StatusCode::BAD_REQUEST),
            directory::DirectoryError::Conflict(m) => {
                render_status(&FormPage { error: Some(m), ..self }, StatusCode::CONFLICT)
            }
            other => Err(PageError::Directory(other)),
        }
    }
}

/// Every console form posts its CSRF token under this name.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    pub csrf_token: String,
}
