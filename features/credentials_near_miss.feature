@area-X
Feature: Security: credentials that are almost right
  Spec area X (X-1) of docs/spec/receipts-spec.md and docs/protocol.md section 1: a token is the
  whole of what was issued, compared exactly. A real token with its last character changed, cut
  short, with characters added, or in another letter case is a token the service never issued:
  the call is refused as unauthenticated and changes nothing anyone can see. A real token of
  another user acts as that user, never as the user the request was meant for.

  @RR-X-060 @spec-X-1 @spec-E-2 @doc-protocol @needs-raw-wire
  Scenario Outline: A token that is almost a user's own opens nothing
    Given Alice and Bob are in a one-to-one chat
    And Alice has sent a message that needs a read receipt
    And everyone has taken note of what they can see
    When someone tries to <request> with Bob's token <change>
    Then the call fails with code 90001 (strict: HTTP status 401)
    And everyone still sees exactly what they noted

    Examples:
      | request                             | change                          |
      | send a read receipt for the message | with its last character changed |
      | send a read receipt for the message | cut short by one character      |
      | send a read receipt for the message | cut to its first half           |
      | send a read receipt for the message | with extra characters after it  |
      | send a read receipt for the message | in the opposite letter case     |
      | list the conversations              | with its last character changed |
      | open the push channel               | with extra characters after it  |

  @RR-X-061 @spec-X-1 @spec-X-2 @doc-protocol @needs-raw-wire
  Scenario Outline: Another user's real token acts as that user, never as the one the request was meant for
    Given Alice and Bob are in a one-to-one chat
    And Alice has sent a message that needs a read receipt
    And Carol is another user
    And everyone has taken note of what they can see
    When someone tries to <request> with Carol's token as it is
    Then the call fails with code 6017
    And everyone still sees exactly what they noted

    Examples:
      | request                               |
      | send a read receipt for the message   |
      | pull the read receipts of the message |
