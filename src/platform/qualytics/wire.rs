//! The wire types of the Qualytics API (spec/qualytics-api.yaml), shared by the client and the sandbox.
