//! `OpenAiBrain`: chat completions with tool calling through async-openai,
//! against any OpenAI-compatible base URL (OpenAI, Ollama, vLLM, LiteLLM).
//! Strict tool schemas, a bounded number of tool rounds, a timeout per
//! request. The model's tool calls go through the same [`TurnTools`] as the
//! local brain's (order enforced, every call recorded); its final word is
//! either `send_response` (a reply, filtered afterwards) or
//! `escalate_to_human` (the holding reply comes from our templates).

use super::config::ModelEndpoint;
use super::tools::{CustomerHistory, ToolName, TurnTools};
use super::{Ctx, ModelDecision, ModelOutcome};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, CreateChatCompletionRequest,
};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model request timed out after {0} ms")]
    Timeout(u64),
    #[error("model request failed: {0}")]
    Request(String),
    #[error("model API key variable {0} is not set")]
    MissingKey(String),
    #[error("model used {0} tool rounds without sending a response")]
    TooManyRounds(u32),
    #[error("model answered without calling send_response or escalate_to_human")]
    NoDecision,
    #[error("tool failed: {0}")]
    Tool(String),
}

/// A failed model request, without the text of the request or the answer
/// (a customer's words, the reply to them): an answer that does not parse
/// is described by where it broke and its size, not quoted.
fn describe(error: async_openai::error::OpenAIError) -> String {
    match error {
        async_openai::error::OpenAIError::JSONDeserialize(e, content) => format!(
            "the model's answer does not parse ({:?} at line {} column {}, {} bytes)",
            e.classify(),
            e.line(),
            e.column(),
            content.len()
        ),
        other => other.to_string(),
    }
}

/// The tool list sent to the model (strict schemas).
pub fn tool_definitions() -> Value {
    json!(
        ToolName::ALL
            .iter()
            .map(|t| json!({
                "type": "function",
                "function": {
                    "name": t.as_str(),
                    "description": t.description(),
                    "parameters": t.parameters(),
                    "strict": true
                }
            }))
            .collect::<Vec<_>>()
    )
}

fn system_prompt(ctx: &Ctx<'_>, history: &CustomerHistory) -> String {
    let c = ctx.config;
    let mut s = format!(
        "You are {name}, {company}'s {role}. You sound like {persona}. \
         Answer only from the knowledge base (search_knowledge_base); never guess, never promise features, \
         never state prices or discuss refunds, never reveal internal details. \
         Call create_ticket first (it may already exist), search before answering, and finish with exactly one \
         send_response (the body only: greeting, signature and channel formatting are added for you) — or \
         escalate_to_human when the knowledge base does not cover the question after two searches. \
         The knowledge base is in English: search it with English terms, also when the customer writes in \
         another language. Reply in the customer's language (the one most of their message is written in), \
         keeping menu paths, buttons and setting names exactly as the articles write them. Lead with the \
         sentence that answers the question, and keep every condition the article attaches to it (who may \
         do it, on which plans, limits). \
         The customer writes on {channel}.",
        name = c.assistant_name,
        company = c.company,
        role = c.role,
        persona = c.persona,
        channel = ctx.input.channel,
    );
    if !history.escalations.is_empty() {
        s.push_str(" The customer has recent escalations: ");
        s.push_str(&history.escalations.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>().join(", "));
        s.push('.');
    }
    s
}

/// Runs the model's tool loop. Tokens and cost are summed over rounds.
pub async fn run_model(
    tools: &mut TurnTools<'_>,
    ctx: &Ctx<'_>,
    endpoint: &ModelEndpoint,
    history: &CustomerHistory,
) -> Result<ModelOutcome, ModelError> {
    let client = client_for(endpoint)?;
    let user = match ctx.input.subject {
        Some(s) => format!("Subject: {s}\n\n{}", ctx.input.message),
        None => ctx.input.message.to_string(),
    };
    let mut messages = vec![
        json!({ "role": "system", "content": system_prompt(ctx, history) }),
        json!({ "role": "user", "content": user }),
    ];
    let mut outcome = ModelOutcome {
        decision: ModelDecision::Reply(String::new()),
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: 0.0,
    };
    let mut escalation = None;
    for _round in 0..endpoint.max_tool_rounds {
        let (calls, round_tokens) = ask(&client, ctx, endpoint, &messages, &mut outcome).await?;
        if calls.is_empty() {
            return Err(ModelError::NoDecision);
        }
        messages.push(json!({
            "role": "assistant",
            "tool_calls": calls.iter().map(|c| json!({
                "id": c.id, "type": "function",
                "function": { "name": c.function.name, "arguments": c.function.arguments }
            })).collect::<Vec<_>>()
        }));
        for (i, call) in calls.iter().enumerate() {
            // The model's final reply is not sent from here: it is returned
            // for the output filter, which sends it (or blocks it).
            if call.function.name == ToolName::SendResponse.as_str() {
                let args: Value = match serde_json::from_str(&call.function.arguments) {
                    Ok(v) => v,
                    Err(e) => {
                        messages
                            .push(tool_result(&call.id, json!({ "error": format!("arguments are not JSON: {e}") })));
                        continue;
                    }
                };
                match args.get("message").and_then(Value::as_str).filter(|m| !m.trim().is_empty()) {
                    Some(text) if tools.ticket.is_some() => {
                        if i == 0 {
                            tools.add_tokens(round_tokens);
                        }
                        outcome.decision = match escalation.take() {
                            Some((reason, urgency)) => ModelDecision::Escalate { reason, urgency },
                            None => ModelDecision::Reply(text.to_string()),
                        };
                        return Ok(outcome);
                    }
                    Some(_) => {
                        messages.push(tool_result(
                            &call.id,
                            json!({ "error": "send_response before create_ticket: create_ticket must be the first call" }),
                        ));
                    }
                    None => {
                        messages.push(tool_result(&call.id, json!({ "error": "message must be a non-empty string" })));
                    }
                }
                continue;
            }
            let result = tools.call(&call.function.name, &call.function.arguments).await;
            if i == 0 {
                tools.add_tokens(round_tokens);
            }
            let content = match result {
                Ok(v) => v,
                Err(e) if e.is_recoverable() => json!({ "error": e.to_string() }),
                Err(e) => return Err(ModelError::Tool(e.to_string())),
            };
            if call.function.name == ToolName::EscalateToHuman.as_str()
                && let Some(esc) = &tools.escalation
            {
                escalation = Some((esc.reason, esc.urgency));
            }
            messages.push(tool_result(&call.id, content));
        }
        if let Some((reason, urgency)) = escalation {
            // Escalated: the holding reply is ours, whatever else it planned.
            outcome.decision = ModelDecision::Escalate { reason, urgency };
            return Ok(outcome);
        }
    }
    Err(ModelError::TooManyRounds(endpoint.max_tool_rounds))
}

/// One round: the conversation so far to the model (the turn's seat given
/// up while it answers), its usage added to `outcome`; the function calls
/// it made and the round's tokens.
async fn ask(
    client: &Client<OpenAIConfig>,
    ctx: &Ctx<'_>,
    endpoint: &ModelEndpoint,
    messages: &[Value],
    outcome: &mut ModelOutcome,
) -> Result<(Vec<ChatCompletionMessageToolCall>, u32), ModelError> {
    let request: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": endpoint.model,
        "messages": messages,
        "tools": tool_definitions(),
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "temperature": 0
    }))
    .map_err(|e| ModelError::Request(format!("request does not serialize ({:?})", e.classify())))?;
    // The turn gives up its seat while it only waits on the model.
    let chat = client.chat();
    let call = tokio::time::timeout(Duration::from_millis(endpoint.timeout_ms), chat.create(request));
    let response = ctx
        .input
        .seat
        .away(call)
        .await
        .map_err(|_| ModelError::Timeout(endpoint.timeout_ms))?
        .map_err(|e| ModelError::Request(describe(e)))?;
    let round_tokens = response.usage.as_ref().map_or(0, |u| u.total_tokens);
    if let Some(u) = &response.usage {
        outcome.prompt_tokens += u.prompt_tokens;
        outcome.completion_tokens += u.completion_tokens;
        outcome.cost_usd += f64::from(u.prompt_tokens) * endpoint.prompt_usd_per_mtok / 1e6
            + f64::from(u.completion_tokens) * endpoint.completion_usd_per_mtok / 1e6;
    }
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(ModelError::Request("response has no choices".into()));
    };
    let calls: Vec<_> = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| match c {
            ChatCompletionMessageToolCalls::Function(f) => Some(f),
            ChatCompletionMessageToolCalls::Custom(_) => None,
        })
        .collect();
    Ok((calls, round_tokens))
}

/// The process's client for `endpoint` and its key: one per endpoint and
/// key (no certificates read per turn, the connection pool kept warm).
fn client_for(endpoint: &ModelEndpoint) -> Result<Client<OpenAIConfig>, ModelError> {
    let key = match &endpoint.api_key_env {
        Some(var) => Some(std::env::var(var).map_err(|_| ModelError::MissingKey(var.clone()))?),
        None => None,
    };
    crate::http_clients::openai(endpoint.base_url.trim_end_matches('/'), key.as_deref())
        .map_err(|e| ModelError::Request(format!("model client: {e}")))
}

fn tool_result(id: &str, content: Value) -> Value {
    json!({ "role": "tool", "tool_call_id": id, "content": content.to_string() })
}
