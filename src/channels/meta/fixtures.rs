//! Test payloads shaped like the examples of Meta's "Webhooks reference —
//! messages" pages (text, image, status, failed status), plus a batched
//! POST with several entries and a wrapper that puts one message object
//! into a complete envelope. Test-only.

/// Meta's text-message example.
pub const TEXT: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {
              "display_phone_number": "15550783881",
              "phone_number_id": "106540352242922"
            },
            "contacts": [
              {
                "profile": {
                  "name": "Sheena Nelson"
                },
                "wa_id": "16505551234"
              }
            ],
            "messages": [
              {
                "from": "16505551234",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                "timestamp": "1749416383",
                "type": "text",
                "text": {
                  "body": "Does it come in another color?"
                }
              }
            ]
          },
          "field": "messages"
        }
      ]
    }
  ]
}"#;

/// Meta's image-message example (with a caption).
pub const IMAGE: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {
              "display_phone_number": "15550783881",
              "phone_number_id": "106540352242922"
            },
            "contacts": [
              {
                "profile": {
                  "name": "Sheena Nelson"
                },
                "wa_id": "16505551234"
              }
            ],
            "messages": [
              {
                "from": "16505551234",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUJBRjI4RjhFRkNCNjU5RjU5AA==",
                "timestamp": "1744344496",
                "type": "image",
                "image": {
                  "caption": "This is a caption",
                  "mime_type": "image/jpeg",
                  "sha256": "SfInY0gHMKtuTXwf5jJ8Pf4Xj7uvKJHaPRVbDs5FOZI=",
                  "id": "1003383421387256"
                }
              }
            ]
          },
          "field": "messages"
        }
      ]
    }
  ]
}"#;

/// A `delivered` status, with the conversation and pricing Meta adds.
pub const DELIVERED: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "1314702302917944",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {
              "display_phone_number": "15556459128",
              "phone_number_id": "590968830767958"
            },
            "statuses": [
              {
                "id": "wamid.HBgNNTUxNjk5MjMxODIyMhUCABEYEjgxQkVFRDVBQTVDODFDOTg3MQA=",
                "status": "delivered",
                "timestamp": "1750857384",
                "recipient_id": "5516992318222",
                "conversation": {
                  "id": "a75d17ad06104c51166f948319b03c6a",
                  "origin": {
                    "type": "service"
                  }
                },
                "pricing": {
                  "billable": true,
                  "pricing_model": "CBP",
                  "category": "service"
                }
              }
            ]
          },
          "field": "messages"
        }
      ]
    }
  ]
}"#;

/// A `failed` status: the message went out after the 24-hour window.
pub const FAILED: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {
              "display_phone_number": "15550783881",
              "phone_number_id": "106540352242922"
            },
            "statuses": [
              {
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MUI3NUI2NTc4QjdFQjlBRDIA",
                "status": "failed",
                "timestamp": "1750263773",
                "recipient_id": "16505551234",
                "errors": [
                  {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                      "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                    },
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
                  }
                ]
              }
            ]
          },
          "field": "messages"
        }
      ]
    }
  ]
}"#;

/// Two WABAs in one POST: the first with two numbers' changes (messages of
/// three types, one bad, two senders), the second with a status and a
/// template-status change that is not about messages.
pub const MULTI: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "changes": [
        {
          "field": "messages",
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [
              {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"},
              {"profile": {"name": "Kofi Mensah"}, "wa_id": "233201234567"}
            ],
            "messages": [
              {"from": "16505551234", "id": "wamid.A1", "timestamp": "1749416383", "type": "text",
               "text": {"body": "first"}},
              {"from": "233201234567", "id": "wamid.A2", "timestamp": "1749416384", "type": "reaction",
               "reaction": {"message_id": "wamid.OUT1", "emoji": "\ud83d\udc4d"}},
              {"from": "16505551234", "id": "wamid.A3", "timestamp": "1749416385", "type": "hologram",
               "hologram": {"frames": 3}},
              {"from": "not-a-number", "id": "wamid.A4", "timestamp": "1749416386", "type": "text",
               "text": {"body": "lost"}}
            ]
          }
        },
        {
          "field": "messages",
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "200000000000001"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5511987654321"}],
            "messages": [
              {"from": "5511987654321", "id": "wamid.B1", "timestamp": "1749416390", "type": "text",
               "text": {"body": "second number"}}
            ]
          }
        }
      ]
    },
    {
      "id": "900000000000009",
      "changes": [
        {
          "field": "messages",
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "442071234567", "phone_number_id": "300000000000003"},
            "statuses": [
              {"id": "wamid.OUT9", "status": "read", "timestamp": "1749416400", "recipient_id": "447700900418"}
            ]
          }
        },
        {
          "field": "message_template_status_update",
          "value": {"event": "APPROVED", "message_template_id": 12345, "message_template_name": "support_followup"}
        }
      ]
    }
  ]
}"#;

/// A complete webhook around one message object (and its contact).
pub fn with_message(message: &str) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages",
        "value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881",
        "phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Sheena Nelson"}},"wa_id":"16505551234"}}],
        "messages":[{message}]}}}}]}}]}}"#
    )
}
