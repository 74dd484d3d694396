//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers'
//! own `#[utoipa::path]` annotations as the routes are registered (so a
//! route cannot be served without being documented), and served at
//! `/api/v1/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "FTE customer-success runtime",
        description = "Admin, human-workflow and observability API. Every error is an RFC 7807 problem \
                       (application/problem+json); every response carries X-Request-Id."
    ),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "human workflow", description = "Escalation and approval queues; claim, reply, hand back, resolve"),
        (name = "conversations", description = "Conversations with their transcript and event log"),
        (name = "customers", description = "Customers, identifiers, merges"),
        (name = "tickets", description = "Support tickets"),
        (name = "runtime", description = "Resident actors and runtime statistics"),
        (name = "knowledge base", description = "Knowledge-base documents and search preview"),
        (name = "tenants", description = "Tenants and their agent configuration (admin)"),
        (name = "observability", description = "Health, readiness and metrics")
    )
)]
pub struct ApiDoc;

/// `Authorization: Bearer fte_…` (an API key made with `fte apikey create`).
struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("fte API key").build(),
            ),
        );
    }
}

/// `GET /api/v1/openapi.json` (a 500 problem if it could not be rendered
/// at start-up, which the log explains).
pub async fn serve(document: Option<std::sync::Arc<str>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match document {
        Some(json) => ([(axum::http::header::CONTENT_TYPE, "application/json")], json.to_string()).into_response(),
        None => super::problem::Problem::internal("the API description could not be rendered").into_response(),
    }
}

/// Error responses are RFC 7807 problems: documents every 4xx and 5xx
/// response whose body the handlers declared as JSON under
/// `application/problem+json`, the content type they are sent with.
pub fn problem_content_types(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if let (true, utoipa::openapi::RefOr::T(response)) = (is_error, response)
                    && let Some(content) = response.content.shift_remove("application/json")
                {
                    response.content.insert("application/problem+json".to_string(), content);
                }
            }
        }
    }
}
