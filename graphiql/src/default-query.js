// What a first visit shows in the query editor: how to get a token and where to put it.
// Lines stay short enough to read beside the Explorer and the result.
export const DEFAULT_QUERY = `# Welcome to the CRM's GraphQL API.
#
# Most operations need a token. Sign up (the
# first account of an empty install becomes
# ADMIN) or sign in:
#
#   mutation {
#     sessionCreate(input: {
#         email: "...", password: "..."}) {
#       token userErrors { message code }
#     }
#   }
#
# then paste the token in the Headers tab
# below as
#
#   {"Authorization": "Bearer <token>"}
#
# Run with Ctrl-Enter. On the left, Docs
# lists every type and field, and Explorer
# builds a query as you tick fields.

query Me {
  me {
    name
    email
    role
  }
}
`;
