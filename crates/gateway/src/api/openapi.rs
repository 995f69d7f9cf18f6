//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    applications, connections, enterprises, events, groups, mappings, organizations, scim_requests, scim_tokens, users,
    webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Portico admin API", description = "Enterprises, organizations, groups and users of a Portico installation. Authenticate with `Authorization: Bearer <admin API key>` (create one with `portico api-key create`). Errors are RFC 9457 problem details."),
    paths(
        enterprises::create, enterprises::list, enterprises::get_one, enterprises::update, enterprises::remove,
        enterprises::appoint_admin,
        organizations::create, organizations::list, organizations::get_one, organizations::update,
        organizations::remove, organizations::appoint_admin, organizations::members,
        groups::create, groups::list, groups::members, groups::get_permissions, groups::put_permissions,
        users::list, users::create, users::get, users::update, users::delete, users::access, users::link,
        users::unlink,
        connections::create, connections::list, connections::get_one, connections::update, connections::remove,
        connections::enable, connections::set_default_application, connections::disable, connections::test, connections::test_results,
        connections::refresh_metadata,
        scim_tokens::create, scim_tokens::list, scim_tokens::revoke, scim_requests::list,
        mappings::list, mappings::get_mappings, mappings::put_mappings, mappings::map_all, mappings::get_job,
        applications::create, applications::list, applications::get_one, applications::update,
        applications::remove, applications::rotate_secret,
        webhooks::create, webhooks::list, webhooks::get_one, webhooks::update, webhooks::remove,
        webhooks::rotate_secret, webhooks::deliveries, webhooks::logouts, webhooks::delivery_attempts,
        webhooks::resend,
        events::list,
    ),
    modifiers(&BearerKey),
    tags(
        (name = "enterprises", description = "Tenants; operators create and delete them"),
        (name = "organizations", description = "Organizations of an enterprise"),
        (name = "groups", description = "Groups of an organization"),
        (name = "users", description = "People of an enterprise"),
        (name = "connections", description = "SSO connections: set-up, test, enable"),
        (name = "scim-tokens", description = "Tokens an IdP uses to provision over SCIM"),
        (name = "group-mappings", description = "IdP groups and the organizations they feed"),
        (name = "applications", description = "The host product's applications, signed in through Portico as OpenID Provider (operators only)"),
        (name = "webhooks", description = "Where applications receive events (Standard Webhooks), and what was delivered (operators only)"),
        (name = "events", description = "Every change a host product may care about, in order"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Served without authentication: it describes the API, it holds no data.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
