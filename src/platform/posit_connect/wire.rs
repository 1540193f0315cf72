//! The wire types of the Posit Connect API (spec/posit-connect-api.yaml), shared by the client and the sandbox.
