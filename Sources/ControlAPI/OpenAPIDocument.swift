/// The control API's OpenAPI 3 document, served at /openapi.json. ControlAPITests holds it to
/// the router: every route is documented here, and everything documented is routed.
enum OpenAPIDocument {
    static let json = #"""
{
 "openapi": "3.0.3",
 "info": {
  "title": "vfido control API",
  "version": "1",
  "description": "Drive vfido's virtual keys: credentials, presence and verification, response overrides, plugging, events. Every request needs `Authorization: Bearer <token>` (the token is in control.token, 0600, next to the control socket) or `?access_token=`."
 },
 "servers": [
  {
   "url": "http://127.0.0.1:8112"
  }
 ],
 "security": [
  {
   "bearer": []
  }
 ],
 "paths": {
  "/": {
   "get": {
    "operationId": "inspector",
    "summary": "The web inspector (HTML)",
    "responses": {
     "200": {
      "description": "HTML page",
      "content": {
       "text/html": {}
      }
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/openapi.json": {
   "get": {
    "operationId": "openapi",
    "summary": "This document",
    "responses": {
     "200": {
      "description": "done"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys": {
   "get": {
    "operationId": "listKeys",
    "summary": "List the keys",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Key"
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   },
   "post": {
    "operationId": "addKey",
    "summary": "Add a key at runtime (WebDriver Add Virtual Authenticator, CDP addVirtualAuthenticator): next USB/IP bus id, UDP port, hidraw node; in memory",
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/KeyOptions"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "added",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Key"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "409": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "get": {
    "operationId": "getKey",
    "summary": "One key",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Key"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   },
   "delete": {
    "operationId": "removeKey",
    "summary": "Remove a key added at runtime (hosts see it unplugged; what it stored is gone)",
    "responses": {
     "204": {
      "description": "removed"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "409": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}/power-cycle": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "post": {
    "operationId": "powerCycle",
    "summary": "Forget per-boot state (CTAPHID channels kept)",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Key"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}/unplug": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "post": {
    "operationId": "unplug",
    "summary": "Unplug: USB/IP hosts see a disconnect, the uhid node goes, UDP goes quiet",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Key"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}/plug": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "post": {
    "operationId": "plug",
    "summary": "Plug back in",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Key"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "500": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}/reset": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "post": {
    "operationId": "factoryReset",
    "summary": "Factory reset without a touch or the reset window",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Key"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}/presence": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "get": {
    "operationId": "getPresence",
    "summary": "Presence and verification settings",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Presence"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   },
   "put": {
    "operationId": "setPresence",
    "summary": "setUserVerified, automatic presence (isUserConsenting), policy, a held touch",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Presence"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/PresenceRequest"
       }
      }
     }
    }
   }
  },
  "/keys/{key}/prompts": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "get": {
    "operationId": "listPrompts",
    "summary": "Prompts waiting for an answer",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Prompt"
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}/prompts/approve": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "post": {
    "operationId": "approvePrompt",
    "summary": "Approve a waiting prompt (the oldest unless id is given)",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Prompt"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/AnswerRequest"
       }
      }
     }
    }
   }
  },
  "/keys/{key}/prompts/deny": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "post": {
    "operationId": "denyPrompt",
    "summary": "Deny a waiting prompt",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Prompt"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/AnswerRequest"
       }
      }
     }
    }
   }
  },
  "/keys/{key}/overrides": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "get": {
    "operationId": "getResponseOverrideBits",
    "summary": "Response overrides",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Overrides"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   },
   "put": {
    "operationId": "setResponseOverrideBits",
    "summary": "Set isBogusSignature, isBadUV, isBadUP",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Overrides"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Overrides"
       }
      }
     }
    }
   }
  },
  "/keys/{key}/faults": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "get": {
    "operationId": "getFaults",
    "summary": "Fault injection: the rules, the seed, how many mutations were applied and the newest of them (docs/fault-injection.md)",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Faults"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   },
   "put": {
    "operationId": "setFaults",
    "summary": "Set the fault rules (KIND[@COMMAND][:RATE]) and seed; the key's lies start over. Empty rules: none",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Faults"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/FaultsRequest"
       }
      }
     }
    }
   }
  },
  "/keys/{key}/credentials": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "get": {
    "operationId": "getCredentials",
    "summary": "Stored credentials (no private keys)",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Credential"
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   },
   "post": {
    "operationId": "addCredential",
    "summary": "Add a credential (WebDriver credential JSON)",
    "responses": {
     "201": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Credential"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "409": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "507": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/CredentialRequest"
       }
      }
     }
    }
   },
   "delete": {
    "operationId": "clearCredentials",
    "summary": "Remove every stored credential",
    "responses": {
     "200": {
      "description": "done"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/keys/{key}/credentials/export": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    }
   ],
   "post": {
    "operationId": "exportCredentials",
    "summary": "Stored credentials WITH private keys (webdriver JSON or CXF)",
    "responses": {
     "200": {
      "description": "done"
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/ExportRequest"
       }
      }
     }
    }
   }
  },
  "/keys/{key}/credentials/{credentialId}": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "integer",
      "minimum": 1
     }
    },
    {
     "name": "credentialId",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string",
      "description": "base64url"
     }
    }
   ],
   "get": {
    "operationId": "getCredential",
    "summary": "One stored credential",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Credential"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   },
   "patch": {
    "operationId": "setCredentialProperties",
    "summary": "Change backupEligibility, backupState, signCount",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Credential"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/CredentialProperties"
       }
      }
     }
    }
   },
   "delete": {
    "operationId": "removeCredential",
    "summary": "Remove one stored credential",
    "responses": {
     "204": {
      "description": "done"
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/events": {
   "get": {
    "operationId": "events",
    "summary": "Server-Sent Events: credential*, prompt*, pinSet/pinChanged, reset, plugged/unplugged, powerCycled, command; ?key=N, Last-Event-ID",
    "responses": {
     "200": {
      "description": "event stream",
      "content": {
       "text/event-stream": {}
      }
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "parameters": [
     {
      "name": "key",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer"
      }
     },
     {
      "name": "after",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer"
      }
     }
    ]
   }
  },
  "/events/recent": {
   "get": {
    "operationId": "recentEvents",
    "summary": "The most recent events (up to 512)",
    "responses": {
     "200": {
      "description": "done",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Event"
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    },
    "parameters": [
     {
      "name": "after",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer"
      }
     }
    ]
   }
  },
  "/harness/pico/{token}": {
   "parameters": [
    {
     "name": "token",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     }
    }
   ],
   "get": {
    "operationId": "picoPreflight",
    "summary": "python-fido2's PicoController preflight",
    "responses": {
     "200": {
      "description": "ok"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/harness/pico/{token}/{port}/{switch}/{state}": {
   "parameters": [
    {
     "name": "token",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     }
    },
    {
     "name": "port",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     }
    },
    {
     "name": "switch",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     }
    },
    {
     "name": "state",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     }
    }
   ],
   "get": {
    "operationId": "picoSwitch",
    "summary": "usb<N>/touch|power/on|off, as python-fido2's --controller sends them",
    "responses": {
     "200": {
      "description": "ok"
     },
     "401": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  }
 },
 "components": {
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer"
   }
  },
  "schemas": {
   "Error": {
    "type": "object",
    "required": [
     "error_code",
     "message"
    ],
    "properties": {
     "error_code": {
      "type": "string"
     },
     "message": {
      "type": "string"
     }
    }
   },
   "Presence": {
    "type": "object",
    "properties": {
     "policy": {
      "type": "string",
      "enum": [
       "auto",
       "deny",
       "terminal",
       "control",
       "pinentry",
       "notify"
      ]
     },
     "isUserConsenting": {
      "type": "boolean"
     },
     "isUserVerified": {
      "type": "boolean"
     },
     "touching": {
      "type": "boolean"
     }
    }
   },
   "PresenceRequest": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
     "policy": {
      "type": "string",
      "enum": [
       "auto",
       "deny",
       "control",
       "pinentry",
       "notify"
      ]
     },
     "isUserConsenting": {
      "type": "boolean"
     },
     "isUserVerified": {
      "type": "boolean"
     },
     "touching": {
      "type": "boolean"
     }
    }
   },
   "FaultsRequest": {
    "type": "object",
    "additionalProperties": false,
    "required": ["rules"],
    "properties": {
     "rules": {
      "type": "array",
      "items": {
       "type": "string",
       "example": "ctap.truncated@getAssertion:0.5"
      }
     },
     "seed": {
      "type": "integer",
      "minimum": 0
     }
    }
   },
   "Faults": {
    "type": "object",
    "properties": {
     "rules": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "seed": {
      "type": "integer"
     },
     "replaying": {
      "type": "boolean"
     },
     "applied": {
      "type": "integer"
     },
     "log": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Mutation"
      }
     }
    }
   },
   "Mutation": {
    "type": "object",
    "properties": {
     "stage": {
      "type": "string",
      "enum": ["response", "frames", "urb"]
     },
     "event": {
      "type": "integer"
     },
     "fault": {
      "type": "string"
     },
     "command": {
      "type": "string"
     },
     "seed": {
      "type": "integer"
     },
     "detail": {
      "type": "string"
     }
    }
   },
   "Overrides": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
     "isBogusSignature": {
      "type": "boolean"
     },
     "isBadUV": {
      "type": "boolean"
     },
     "isBadUP": {
      "type": "boolean"
     }
    }
   },
   "Prompt": {
    "type": "object",
    "properties": {
     "id": {
      "type": "integer"
     },
     "operation": {
      "type": "string"
     },
     "rpId": {
      "type": "string"
     },
     "userName": {
      "type": "string"
     },
     "verification": {
      "type": "boolean"
     },
     "summary": {
      "type": "string"
     },
     "startedAt": {
      "type": "string"
     }
    }
   },
   "AnswerRequest": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
     "id": {
      "type": "integer"
     },
     "wait": {
      "type": "number",
      "minimum": 0,
      "maximum": 300
     }
    }
   },
   "Key": {
    "type": "object",
    "properties": {
     "key": {
      "type": "integer"
     },
     "serialNumber": {
      "type": "string"
     },
     "protocolVersion": {
      "type": "string",
      "enum": [
       "ctap1/u2f",
       "ctap2",
       "ctap2_1"
      ]
     },
     "transport": {
      "type": "string"
     },
     "aaguid": {
      "type": "string"
     },
     "plugged": {
      "type": "boolean"
     },
     "usbipBusId": {
      "type": "string"
     },
     "usbipAttached": {
      "type": "boolean"
     },
     "udpPort": {
      "type": "integer"
     },
     "hidraw": {
      "type": "boolean"
     },
     "hasResidentKey": {
      "type": "boolean"
     },
     "hasUserVerification": {
      "type": "boolean"
     },
     "presence": {
      "$ref": "#/components/schemas/Presence"
     },
     "responseOverrides": {
      "$ref": "#/components/schemas/Overrides"
     },
     "storedCredentials": {
      "type": "integer"
     },
     "maxResidentCredentials": {
      "type": "integer"
     },
     "addedAtRuntime": {
      "type": "boolean"
     },
     "hasLargeBlob": {
      "type": "boolean"
     },
     "extensions": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "defaultBackupEligibility": {
      "type": "boolean"
     },
     "defaultBackupState": {
      "type": "boolean"
     }
    }
   },
   "CredentialRequest": {
    "type": "object",
    "additionalProperties": false,
    "required": [
     "credentialId",
     "isResidentCredential",
     "rpId",
     "privateKey"
    ],
    "properties": {
     "credentialId": {
      "type": "string"
     },
     "isResidentCredential": {
      "type": "boolean"
     },
     "rpId": {
      "type": "string"
     },
     "privateKey": {
      "type": "string",
      "description": "PKCS#8 DER, base64url"
     },
     "userHandle": {
      "type": "string"
     },
     "signCount": {
      "type": "integer"
     },
     "largeBlob": {
      "type": "string",
      "description": "base64url, uncompressed: compressed and sealed into the large-blob array under the credential's largeBlobKey, as a browser's largeBlob write does (resident credentials, keys with hasLargeBlob)"
     },
     "backupEligibility": {
      "type": "boolean"
     },
     "backupState": {
      "type": "boolean"
     },
     "userName": {
      "type": "string"
     },
     "userDisplayName": {
      "type": "string"
     }
    }
   },
   "CredentialProperties": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
     "backupEligibility": {
      "type": "boolean"
     },
     "backupState": {
      "type": "boolean"
     },
     "signCount": {
      "type": "integer"
     }
    }
   },
   "ExportRequest": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
     "format": {
      "type": "string",
      "enum": [
       "webdriver",
       "cxf"
      ]
     }
    }
   },
   "Credential": {
    "type": "object",
    "properties": {
     "credentialId": {
      "type": "string"
     },
     "isResidentCredential": {
      "type": "boolean"
     },
     "rpId": {
      "type": "string"
     },
     "userHandle": {
      "type": "string"
     },
     "userName": {
      "type": "string"
     },
     "userDisplayName": {
      "type": "string"
     },
     "signCount": {
      "type": "integer"
     },
     "backupEligibility": {
      "type": "boolean"
     },
     "backupState": {
      "type": "boolean"
     },
     "algorithm": {
      "type": "integer"
     },
     "publicKey": {
      "type": "string"
     },
     "createdAt": {
      "type": "string"
     },
     "privateKey": {
      "type": "string"
     },
     "largeBlob": {
      "type": "string",
      "description": "base64url, uncompressed; present when the key's large-blob array holds one for this credential"
     }
    }
   },
   "Event": {
    "type": "object",
    "properties": {
     "sequence": {
      "type": "integer"
     },
     "time": {
      "type": "string"
     },
     "key": {
      "type": "integer"
     },
     "type": {
      "type": "string"
     }
    },
    "additionalProperties": true
   },
   "KeyOptions": {
    "type": "object",
    "additionalProperties": false,
    "description": "WebDriver's authenticator configuration and CDP's VirtualAuthenticatorOptions. Absent options give vfido's full key (CTAP 2.1, discoverable credentials, every extension, presence approved, UV succeeding).",
    "properties": {
     "protocol": {
      "type": "string",
      "enum": [
       "ctap1/u2f",
       "u2f",
       "ctap2",
       "ctap2_1"
      ]
     },
     "ctap2Version": {
      "type": "string",
      "enum": [
       "ctap2_0",
       "ctap2_1"
      ]
     },
     "transport": {
      "type": "string",
      "enum": [
       "usb"
      ]
     },
     "hasResidentKey": {
      "type": "boolean"
     },
     "hasUserVerification": {
      "type": "boolean"
     },
     "isUserConsenting": {
      "type": "boolean"
     },
     "automaticPresenceSimulation": {
      "type": "boolean"
     },
     "isUserVerified": {
      "type": "boolean"
     },
     "extensions": {
      "type": "array",
      "items": {
       "type": "string",
       "enum": [
        "credBlob",
        "credProtect",
        "largeBlob",
        "largeBlobKey",
        "minPinLength",
        "prf",
        "hmac-secret",
        "hmac-secret-mc"
       ]
      }
     },
     "hasLargeBlob": {
      "type": "boolean"
     },
     "hasCredBlob": {
      "type": "boolean"
     },
     "hasMinPinLength": {
      "type": "boolean"
     },
     "hasPrf": {
      "type": "boolean"
     },
     "hasHmacSecret": {
      "type": "boolean"
     },
     "defaultBackupEligibility": {
      "type": "boolean"
     },
     "defaultBackupState": {
      "type": "boolean"
     }
    }
   }
  },
  "responses": {
   "Error": {
    "description": "an error",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  }
 }
}
"""#
}
