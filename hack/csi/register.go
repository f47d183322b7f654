// The kubelet's plugin registration (pluginregistration v1), served by the driver itself in place of
// node-driver-registrar: a socket in the kubelet's plugins_registry directory whose GetInfo names the driver and its
// CSI endpoint. The kubelet's plugin watcher finds the socket, calls GetInfo, then NodeGetInfo on the endpoint, and
// writes the CSINode object.
package main

import (
	"context"
	"log"

	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type registration struct {
	registerapi.UnimplementedRegistrationServer
	name, endpoint string
}

func (r *registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.name,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registration) NotifyRegistrationStatus(
	_ context.Context, s *registerapi.RegistrationStatus,
) (*registerapi.RegistrationStatusResponse, error) {
	if s.GetPluginRegistered() {
		log.Printf("csi: registered with the kubelet")
	} else {
		log.Printf("csi: the kubelet refused the registration: %s", s.GetError())
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

func serveRegistration(sock, name, endpoint string) (*grpc.Server, error) {
	lis, err := listen(sock)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, &registration{name: name, endpoint: endpoint})
	go func() {
		if err := srv.Serve(lis); err != nil {
			log.Printf("csi: registration socket: %v", err)
		}
	}()
	return srv, nil
}
