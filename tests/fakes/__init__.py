"""In-memory stand-ins for the services' stores and publishers (issue 14): unit tests run a service's rules
through its real service layer, without Kafka or MongoDB. Each fake copies documents in and out, as a database
would, so a service that forgets to save is caught."""
